//! Streaming decode of one video stream into borrowed 8-bit planar pictures.
//!
//! This is the only part of the analysis that talks to FFmpeg. It opens the file, picks the real video
//! stream (never attached-pic cover art), configures the decoder for analysis-only speed (frame
//! threading, `skip_loop_filter`, optionally `skip_frame=nonref`), and hands every decoded frame to a
//! callback as plain `&[u8]` planes with their strides, without copying, numbered by its packet's
//! timestamp among all packets of the stream (so skipped frames keep their place). Formats the
//! signal code does not read directly (10-bit, RGB, paletted, negative strides, size changes
//! mid-stream) go through one swscale conversion to 8-bit YUV 4:2:0 at a reduced size. Nothing here panics on bad input: corrupt packets are skipped and
//! counted, and the caller keeps whatever was decoded.

use std::path::Path;
use std::sync::Once;

use ff::format::Pixel;
use ff::frame::Video as VFrame;
use ff::media::Type as MediaType;
use ffmpeg_next as ff;

use super::AnalyzeError;

static INIT: Once = Once::new();

/// Initialise FFmpeg once per process (private to `analyze` on purpose). Its log level is the
/// embedding program's choice (`host::set`).
fn init_ffmpeg() {
    INIT.call_once(|| {
        let _ = ff::init();
    });
}

/// One image plane: `height` rows of `width` bytes, `stride` bytes apart.
#[derive(Clone, Copy)]
pub(crate) struct Plane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub width: usize,
    pub height: usize,
}

impl<'a> Plane<'a> {
    #[inline]
    pub fn row(&self, y: usize) -> &'a [u8] {
        let s = y * self.stride;
        &self.data[s..s + self.width]
    }
}

/// An 8-bit picture: luma plus (optionally) planar chroma.
#[derive(Clone, Copy)]
pub(crate) struct Picture<'a> {
    pub y: Plane<'a>,
    pub u: Option<Plane<'a>>,
    pub v: Option<Plane<'a>>,
}

/// Pixel formats whose plane 0 is 8-bit luma and (if present) planes 1/2 are 8-bit planar chroma.
fn direct_layout(fmt: Pixel) -> Option<bool> {
    use Pixel as P;
    match fmt {
        P::YUV420P
        | P::YUVJ420P
        | P::YUV422P
        | P::YUVJ422P
        | P::YUV444P
        | P::YUVJ444P
        | P::YUV440P
        | P::YUVJ440P
        | P::YUV411P
        | P::YUVJ411P
        | P::YUV410P
        | P::YUVA420P
        | P::YUVA422P
        | P::YUVA444P => Some(true),
        P::GRAY8 | P::NV12 | P::NV21 => Some(false),
        _ => Option::None,
    }
}

/// Borrow plane `i` of a frame, or None when it is absent or has an unusable (negative) stride.
fn plane_of(frame: &VFrame, i: usize) -> Option<Plane<'_>> {
    // SAFETY: reading plain fields of a valid AVFrame owned by `frame`.
    let (ptr, linesize) = unsafe {
        let f = &*frame.as_ptr();
        (f.data[i], f.linesize[i])
    };
    if ptr.is_null() || linesize <= 0 {
        return None;
    }
    let desc = frame.format().descriptor()?;
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let (pw, ph) = if i == 1 || i == 2 {
        let (sw, sh) = (desc.log2_chroma_w() as usize, desc.log2_chroma_h() as usize);
        ((w + (1 << sw) - 1) >> sw, (h + (1 << sh) - 1) >> sh)
    } else {
        (w, h)
    };
    let stride = linesize as usize;
    if pw == 0 || ph == 0 || stride < pw {
        return None;
    }
    let len = stride * (ph - 1) + pw;
    // SAFETY: FFmpeg guarantees `ph` rows of `linesize` bytes (the last one at least `pw` long) for
    // an allocated 8-bit plane; the slice lives as long as the borrow of `frame`.
    let data = unsafe { std::slice::from_raw_parts(ptr, len) };
    Some(Plane {
        data,
        stride,
        width: pw,
        height: ph,
    })
}

/// Build a `Picture` view of a frame that has a direct layout.
pub(crate) fn picture_of(frame: &VFrame) -> Option<Picture<'_>> {
    let planar_chroma = direct_layout(frame.format())?;
    let y = plane_of(frame, 0)?;
    let (u, v) = if planar_chroma {
        (plane_of(frame, 1), plane_of(frame, 2))
    } else {
        (None, None)
    };
    Some(Picture { y, u, v })
}

/// An opened input with its chosen video stream and decoder.
pub(crate) struct Source {
    ictx: ff::format::context::Input,
    stream_index: usize,
    decoder: ff::decoder::Video,
    /// Seconds per timestamp tick.
    pub time_base: f64,
    /// Stream start, in ticks, when the container states it.
    pub start_ts: Option<i64>,
    /// Nominal frame rate (avg, else r_frame_rate, else 30).
    pub fps: f64,
    /// Sample aspect ratio of the stream (1.0 when unknown).
    pub sar: f64,
    /// Frames the container expects (0 when it does not say).
    pub expected_frames: u64,
    /// The decoder skips non-reference frames.
    skip_nonref: bool,
}

fn rational(r: ff::Rational) -> Option<f64> {
    (r.numerator() > 0 && r.denominator() > 0)
        .then(|| r.numerator() as f64 / r.denominator() as f64)
}

/// Open `path`, choose the video stream and open its decoder.
pub(crate) fn open(
    path: &Path,
    skip_loop_filter: bool,
    skip_nonref: bool,
) -> Result<Source, AnalyzeError> {
    init_ffmpeg();
    // By descriptor, not ffmpeg-next's `&str` path: a non-UTF-8 name must not panic (`crate::open`).
    let ictx =
        crate::open::av_input_with_info(path).map_err(|e| AnalyzeError::Open(e.to_string()))?;

    // Best real video stream: not cover art; prefer default disposition, then the largest frame.
    let mut best: Option<(bool, u64, usize)> = None;
    for st in ictx.streams() {
        let par = st.parameters();
        if par.medium() != MediaType::Video {
            continue;
        }
        let disp = st.disposition();
        if disp.contains(ff::format::stream::Disposition::ATTACHED_PIC) {
            continue;
        }
        // SAFETY: plain field reads of valid AVCodecParameters.
        let (w, h) = unsafe {
            let p = &*par.as_ptr();
            (p.width.max(0) as u64, p.height.max(0) as u64)
        };
        let key = (
            disp.contains(ff::format::stream::Disposition::DEFAULT),
            w * h,
            st.index(),
        );
        let better = match best {
            None => true,
            Some((d, a, _)) => (key.0, key.1) > (d, a),
        };
        if better {
            best = Some(key);
        }
    }
    let stream_index = best.ok_or(AnalyzeError::NoVideoStream)?.2;
    let st = ictx
        .stream(stream_index)
        .ok_or(AnalyzeError::NoVideoStream)?;
    let time_base = rational(st.time_base()).unwrap_or(1.0 / 90_000.0);
    let start_ts = Some(st.start_time()).filter(|&t| t != ff::ffi::AV_NOPTS_VALUE);
    let fps = rational(st.avg_frame_rate())
        .filter(|f| (1.0..=1000.0).contains(f))
        .or_else(|| rational(st.rate()).filter(|f| (1.0..=1000.0).contains(f)))
        .unwrap_or(30.0);

    // SAFETY: plain field read of valid AVCodecParameters.
    let sar = rational(unsafe { (*st.parameters().as_ptr()).sample_aspect_ratio }.into())
        .filter(|s| (0.05..=20.0).contains(s))
        .unwrap_or(1.0);
    let expected_frames = if st.frames() > 0 {
        st.frames() as u64
    } else {
        let d = ictx.duration();
        if d > 0 {
            (d as f64 / 1e6 * fps).round() as u64
        } else {
            0
        }
    };
    let mut ctx = ff::codec::context::Context::from_parameters(st.parameters())
        .map_err(|e| AnalyzeError::Decoder(e.to_string()))?;
    ctx.set_threading(ff::codec::threading::Config {
        kind: ff::codec::threading::Type::Frame,
        count: frame_threads(st.parameters()),
        ..Default::default()
    });
    // Interlaced video may come as one packet per field: numbering frames by packet would count
    // each frame twice, so it is decoded in full.
    // SAFETY: plain field read of valid AVCodecParameters.
    let field_order = unsafe { (*st.parameters().as_ptr()).field_order };
    let skip_nonref = skip_nonref
        && matches!(
            field_order,
            ff::ffi::AVFieldOrder::AV_FIELD_PROGRESSIVE | ff::ffi::AVFieldOrder::AV_FIELD_UNKNOWN
        );
    let mut dec = ctx.decoder();
    if skip_loop_filter {
        dec.skip_loop_filter(ff::Discard::All);
    }
    if skip_nonref {
        dec.skip_frame(ff::Discard::NonReference);
    }
    let decoder = dec
        .video()
        .map_err(|e| AnalyzeError::Decoder(e.to_string()))?;
    Ok(Source {
        ictx,
        stream_index,
        decoder,
        time_base,
        start_ts,
        fps,
        sar,
        expected_frames,
        skip_nonref,
    })
}

/// Converts odd formats (and frames whose size changed) to 8-bit YUV 4:2:0 at a fixed size.
struct Converter {
    key: (Pixel, u32, u32),
    ctx: ff::software::scaling::Context,
}

/// Size used when converting: the first frame's size, reduced to at most 1280 wide, even.
fn target_size(w: u32, h: u32) -> (u32, u32) {
    let (mut tw, mut th) = (w.max(2), h.max(2));
    if tw > 1280 {
        th = ((th as u64 * 1280) / tw as u64) as u32;
        tw = 1280;
    }
    (tw.max(2) & !1, th.max(2) & !1)
}

/// Whether the decoder says the frame's picture is damaged: it concealed errors in it, or output it
/// although corrupt.
fn frame_damaged(frame: &VFrame) -> bool {
    // SAFETY: plain field reads of a valid AVFrame.
    let (errors, flags) = unsafe {
        let f = &*frame.as_ptr();
        (f.decode_error_flags, f.flags)
    };
    errors != 0 || flags & ff::ffi::AV_FRAME_FLAG_CORRUPT != 0
}

/// Seconds of the stream shown damaged: from each damaged frame (`damaged`, timestamps) to the next
/// keyframe, or to `end` — a reference frame's damage carries into every frame predicted from it —
/// merged where stretches overlap. `keyframes` sorted; result in ticks.
pub(crate) fn damaged_ticks(damaged: &[i64], keyframes: &[i64], end: i64) -> i64 {
    let mut spans: Vec<(i64, i64)> = damaged
        .iter()
        .map(|&t| {
            let next = keyframes.partition_point(|&k| k <= t);
            (t, keyframes.get(next).copied().unwrap_or(end).max(t))
        })
        .collect();
    spans.sort_unstable();
    let (mut total, mut reach) = (0i64, i64::MIN);
    for (a, b) in spans {
        let a = a.max(reach);
        if b > a {
            total = total.saturating_add(b - a);
        }
        reach = reach.max(b);
    }
    total
}

/// Statistics of the decode loop.
pub(crate) struct DecodeStats {
    pub packet_errors: u64,
    /// Timestamps of the frames the decoder flagged as damaged (concealed errors, corrupt output)
    /// and of the packets it rejected.
    pub damaged_pts: Vec<i64>,
    /// Frames and packets with decode errors (also those without a timestamp).
    pub damaged: u64,
    pub frames: u64,
    /// A decoder error ended the stream early.
    pub fatal: Option<String>,
    /// Presentation timestamps of every packet of the stream, sorted (the frame numbering when
    /// non-reference frames are skipped: a frame's number is its rank here).
    pub packet_pts: Vec<i64>,
    /// Packets of the stream without a presentation timestamp (then ranks are unknown).
    pub packets_without_pts: u64,
    /// Presentation timestamps of the keyframe packets, sorted.
    pub keyframe_pts: Vec<i64>,
}

/// What a frame callback tells the decode loop.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Stop,
    /// (From a packet hook) decode every frame from this packet on, non-reference ones too.
    DecodeAll,
}

/// Turns decoder output into frames `picture_of` accepts: planar 8-bit at the first frame's size
/// (odd formats and size changes go through one swscale conversion).
#[derive(Default)]
struct Usable {
    size: Option<(u32, u32)>,
    conv: Option<Converter>,
}

impl Usable {
    /// The usable frame (taking `decoded`'s buffers when it is usable as is), or None when the
    /// frame is empty or cannot be converted (counted as a packet error).
    fn take(&mut self, decoded: &mut VFrame, stats: &mut DecodeStats) -> Option<VFrame> {
        let (w, h) = (decoded.width(), decoded.height());
        if w == 0 || h == 0 {
            return None;
        }
        let first = *self.size.get_or_insert((w, h));
        let direct = (w, h) == first && picture_of(decoded).is_some();
        let usable: VFrame = if direct {
            std::mem::replace(decoded, VFrame::empty())
        } else {
            let key = (decoded.format(), w, h);
            let (tw, th) = if direct_layout(decoded.format()).is_some() {
                (first.0, first.1)
            } else {
                target_size(first.0, first.1)
            };
            if self.conv.as_ref().map(|c| c.key) != Some(key) {
                self.conv = ff::software::scaling::Context::get(
                    key.0,
                    w,
                    h,
                    Pixel::YUV420P,
                    tw,
                    th,
                    ff::software::scaling::Flags::FAST_BILINEAR,
                )
                .ok()
                .map(|ctx| Converter { key, ctx });
            }
            let Some(c) = self.conv.as_mut() else {
                stats.packet_errors += 1;
                return None;
            };
            let mut out = VFrame::empty();
            if c.ctx.run(decoded, &mut out).is_err() {
                stats.packet_errors += 1;
                return None;
            }
            out
        };
        if picture_of(&usable).is_none() {
            stats.packet_errors += 1;
            return None;
        }
        Some(usable)
    }
}

/// Turn skipping of non-reference frames on or off (FFmpeg reads the setting per packet, frame
/// threads included).
fn set_skip(dec: &mut ff::decoder::Video, state: &mut bool, on: bool) {
    if on != *state {
        dec.skip_frame(if on {
            ff::Discard::NonReference
        } else {
            ff::Discard::Default
        });
        *state = on;
    }
}

/// Insert `ts` into the sorted `v` (packets arrive in decode order, nearly sorted: the search is
/// from the end).
fn insert_sorted(v: &mut Vec<i64>, ts: i64) {
    let mut i = v.len();
    while i > 0 && v[i - 1] > ts {
        i -= 1;
    }
    v.insert(i, ts);
}

impl Source {
    /// Decode every frame in presentation order and hand each usable one to `f` with its
    /// best-effort timestamp and its frame number: 8-bit planar (or grey/NV12) at the first
    /// frame's size, so `picture_of` always succeeds on it. Frames are reference-counted decoder
    /// buffers, cheap to move to another thread. The frame number counts every frame of the
    /// stream, also those the decoder skips (`skip_nonref`): it is the rank of the frame's
    /// timestamp among the packets demuxed so far (every earlier frame's packet has been read by
    /// the time a frame comes out in presentation order), or the count of frames handed out when
    /// nothing is skipped.
    pub(crate) fn run_owned(&mut self, mut f: impl FnMut(VFrame, Option<i64>, u64)) -> DecodeStats {
        let skipping = self.skip_nonref;
        // Skipped frames are numbered from packet timestamps: without one there is no numbering,
        // and the caller decodes again in full (stop now rather than at the end).
        let on_packet = |p: Option<i64>| {
            if skipping && p.is_none() {
                Flow::Stop
            } else {
                Flow::Continue
            }
        };
        self.run_until(on_packet, |frame, ts, n, stats| {
            let number = match (skipping, ts) {
                (true, Some(ts)) => stats.packet_pts.partition_point(|&p| p < ts) as u64,
                _ => n,
            };
            f(frame, ts, number);
            Flow::Continue
        })
    }

    /// The decode loop: `on_packet(pts)` sees each packet of the stream before it is sent (it may
    /// change decoder settings or stop), `f(frame, ts, count, stats)` each usable frame (`count`
    /// = frames handed out before it).
    pub(crate) fn run_until(
        &mut self,
        mut on_packet: impl FnMut(Option<i64>) -> Flow,
        mut f: impl FnMut(VFrame, Option<i64>, u64, &DecodeStats) -> Flow,
    ) -> DecodeStats {
        let mut stats = DecodeStats {
            packet_errors: 0,
            damaged_pts: Vec::new(),
            damaged: 0,
            frames: 0,
            fatal: None,
            packet_pts: Vec::new(),
            packets_without_pts: 0,
            keyframe_pts: Vec::new(),
        };
        let mut usable = Usable::default();
        let mut decoded = VFrame::empty();
        let idx = self.stream_index;
        let mut stop = false;

        let mut drain = |dec: &mut ff::decoder::Video, stats: &mut DecodeStats, stop: &mut bool| {
            while !*stop {
                match dec.receive_frame(&mut decoded) {
                    Ok(()) => {
                        let ts = decoded.timestamp();
                        if frame_damaged(&decoded) {
                            stats.damaged += 1;
                            stats.damaged_pts.extend(ts);
                        }
                        if let Some(frame) = usable.take(&mut decoded, stats) {
                            let n = stats.frames;
                            stats.frames += 1;
                            *stop = f(frame, ts, n, stats) == Flow::Stop;
                        }
                    }
                    Err(ff::Error::Other { errno }) if errno == ff::ffi::EAGAIN => break,
                    Err(ff::Error::Eof) => break,
                    Err(_) => {
                        stats.packet_errors += 1;
                        break;
                    }
                }
            }
        };

        for (st, packet) in self.ictx.packets() {
            if st.index() != idx {
                continue;
            }
            match packet.pts() {
                Some(p) => {
                    insert_sorted(&mut stats.packet_pts, p);
                    if packet.is_key() {
                        insert_sorted(&mut stats.keyframe_pts, p);
                    }
                }
                None => stats.packets_without_pts += 1,
            }
            match on_packet(packet.pts()) {
                Flow::Stop => {
                    stop = true;
                    break;
                }
                Flow::DecodeAll => set_skip(&mut self.decoder, &mut self.skip_nonref, false),
                Flow::Continue => {}
            }
            if self.decoder.send_packet(&packet).is_err() {
                stats.packet_errors += 1;
                stats.damaged += 1;
                stats.damaged_pts.extend(packet.pts());
            }
            drain(&mut self.decoder, &mut stats, &mut stop);
            if stop {
                break;
            }
        }
        if !stop && self.decoder.send_eof().is_ok() {
            drain(&mut self.decoder, &mut stats, &mut stop);
        }
        stats
    }

    /// Skip (or stop skipping) non-reference frames from the next packet on.
    pub(crate) fn set_skip_nonref(&mut self, on: bool) {
        set_skip(&mut self.decoder, &mut self.skip_nonref, on);
    }

    /// Go back or forward to the last keyframe at or before `ts` (stream ticks) and drop
    /// everything the decoder holds.
    pub(crate) fn seek(&mut self, ts: i64) -> Result<(), AnalyzeError> {
        let us = (ts as f64 * self.time_base * 1e6).floor() as i64;
        self.ictx
            .seek(us, ..us.saturating_add(1))
            .map_err(|e| AnalyzeError::Open(format!("seek failed: {e}")))?;
        self.decoder.flush();
        Ok(())
    }

    /// Frame height above which `pipelined` keeps no frame waiting between the two threads: a 4K
    /// frame is 12 MB and the 4K decode already sits close to the 200 MB budget.
    pub(crate) fn large(&self) -> bool {
        let (w, h) = (self.decoder.width() as u64, self.decoder.height() as u64);
        w * h > 1920 * 1088 * 2
    }
}

/// Pairs each frame with the previous one for the signal code.
#[derive(Default)]
pub(crate) struct Pairs {
    prev: Option<VFrame>,
}

impl Pairs {
    /// Call `f(current, previous, ts, number)`; `previous` is the previous frame when it has the
    /// same size and layout (None for the first).
    pub(crate) fn feed(
        &mut self,
        usable: VFrame,
        ts: Option<i64>,
        number: u64,
        f: &mut impl FnMut(&Picture<'_>, Option<&Picture<'_>>, Option<i64>, u64),
    ) {
        let Some(cur) = picture_of(&usable) else {
            return;
        };
        let prev_pic = self.prev.as_ref().and_then(picture_of).filter(|p| {
            p.y.width == cur.y.width
                && p.y.height == cur.y.height
                && p.u.map(|q| (q.width, q.height)) == cur.u.map(|q| (q.width, q.height))
        });
        f(&cur, prev_pic.as_ref(), ts, number);
        self.prev = Some(usable);
    }
}

/// Decode on the calling thread and run `f(current, previous, ts, number)` on a second one, so the signal
/// code works on frame N while the decoder produces frame N+1 (the decode loop used to wait for
/// it). Frames stay in presentation order; at most `depth` decoded frames wait in between. `f` runs
/// on one thread, frame after frame; when no thread can be started it runs on this one.
pub(crate) fn pipelined<F>(src: &mut Source, depth: usize, mut f: F) -> DecodeStats
where
    F: FnMut(&Picture<'_>, Option<&Picture<'_>>, Option<i64>, u64) + Send,
{
    let stats = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(VFrame, Option<i64>, u64)>(depth);
        let f = &mut f;
        let worker = std::thread::Builder::new()
            .name("signals".into())
            .spawn_scoped(scope, move || {
                let mut pairs = Pairs::default();
                for (frame, ts, number) in rx {
                    pairs.feed(frame, ts, number, f);
                }
            })
            .ok()?;
        // A send fails only when the worker panicked; its join below reports that.
        let stats = src.run_owned(|frame, ts, number| {
            let _ = tx.send((frame, ts, number));
        });
        drop(tx);
        if let Err(p) = worker.join() {
            std::panic::resume_unwind(p);
        }
        Some(stats)
    });
    stats.unwrap_or_else(|| {
        let mut pairs = Pairs::default();
        src.run_owned(|frame, ts, number| pairs.feed(frame, ts, number, &mut f))
    })
}

/// Decoder frame threads: FFmpeg's automatic count (cores + 1) up to 1080p. Above that each frame
/// thread adds about 40 MB at 4K (measured: 172 MB peak RSS with 1 thread, 212 MB with 2, 253 MB with
/// 3 on a 4K H.264 clip), so large frames decode on one thread to stay under 200 MB; a folder of such
/// files still uses every core because `check` runs files in parallel.
/// `host::Host::decode_threads` (the CLI: `KLING_PREFLIGHT_DECODE_THREADS`) overrides the choice.
fn frame_threads(par: ff::codec::Parameters) -> usize {
    if let Some(n) = crate::host::get().decode_threads {
        return n;
    }
    // SAFETY: `par` wraps a valid AVCodecParameters owned by the open stream.
    let (w, h) = unsafe {
        (
            (*par.as_ptr()).width.max(0) as u64,
            (*par.as_ptr()).height.max(0) as u64,
        )
    };
    if w * h > 1920 * 1088 * 2 { 1 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damage_lasts_to_the_next_keyframe() {
        // Keyframes at 0, 100, 200; the stream ends at 300.
        let keys = [0, 100, 200];
        assert_eq!(damaged_ticks(&[], &keys, 300), 0);
        assert_eq!(damaged_ticks(&[150], &keys, 300), 50);
        // Two errors in one GOP overlap; one in the last GOP runs to the end.
        assert_eq!(damaged_ticks(&[120, 150, 250], &keys, 300), 80 + 50);
        // A damaged keyframe spoils its whole GOP.
        assert_eq!(damaged_ticks(&[100], &keys, 300), 100);
    }
}
