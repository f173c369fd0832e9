//! Video fixes, in-process through libavformat/libavcodec/libavfilter: keyframe scan, stream-copy
//! remux/trim into MP4 (+faststart), and the libx264 transcode (rotation baked in, square pixels,
//! edge limits, constant frame rate, yuv420p, CRF or a target bitrate for the byte cap).
//!
//! Gotchas from the notes that shape this code: packet durations are set before `rescale_ts` (else the
//! last MP4 sample lasts 0), seeks land on keyframes (frames before the window are dropped after
//! decoding), and decoded frames get `pts = best_effort_timestamp` before entering the filter graph.

use std::path::Path;

use ff::{Dictionary, Packet, Rational, codec, encoder, filter, format, frame, media};
use ffmpeg_next as ff;

use super::FixError;
use super::plan::Transcode;

/// libx264 settings: the defaults follow the brief (CRF 19, preset medium); tests use ultrafast.
#[derive(Debug, Clone)]
pub struct X264 {
    pub preset: String,
    pub crf: u8,
}

impl Default for X264 {
    fn default() -> Self {
        X264 {
            preset: "medium".into(),
            crf: 19,
        }
    }
}

/// What was written, for messages and the bitrate retry.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub video_packets: u64,
    pub duration_s: f64,
}

fn av(path: &Path, what: &str) -> impl Fn(ff::Error) -> FixError {
    let p = path.display().to_string();
    let what = what.to_string();
    move |e| FixError::Video(format!("{p}: {what}: {e}"))
}

fn init() -> Result<(), FixError> {
    ff::init().map_err(|e| FixError::Video(format!("cannot initialise FFmpeg: {e}")))?;
    Ok(())
}

/// The provider-relevant video stream: the best one that is not cover art.
fn video_index(ictx: &format::context::Input) -> Option<usize> {
    let attached = |s: &format::stream::Stream| {
        // SAFETY: reading a field of a live AVStream owned by ictx.
        unsafe { (*s.as_ptr()).disposition & ff::ffi::AV_DISPOSITION_ATTACHED_PIC != 0 }
    };
    ictx.streams()
        .filter(|s| s.parameters().medium() == media::Type::Video && !attached(s))
        .max_by_key(|s| {
            let p = s.parameters();
            // SAFETY: codecpar is valid for the stream's lifetime.
            unsafe { (*p.as_ptr()).width as i64 * (*p.as_ptr()).height as i64 }
        })
        .map(|s| s.index())
}

/// Open `path` (initialising FFmpeg) and find its video stream.
fn open_video(path: &Path) -> Result<(format::context::Input, usize), FixError> {
    init()?;
    // By descriptor, not ffmpeg-next's `&str` path: a non-UTF-8 name must not panic (`crate::open`).
    let ictx = crate::open::av_input_with_info(path)
        .map_err(|e| FixError::Video(format!("{}: cannot open: {e}", path.display())))?;
    let vi = video_index(&ictx)
        .ok_or_else(|| FixError::Video(format!("{}: no video stream", path.display())))?;
    Ok((ictx, vi))
}

/// A stream's start time in its time base; 0 when it has none.
fn stream_start(s: &format::stream::Stream) -> i64 {
    Some(s.start_time())
        .filter(|t| *t != ff::ffi::AV_NOPTS_VALUE)
        .unwrap_or(0)
}

fn audio_index(ictx: &format::context::Input) -> Option<usize> {
    ictx.streams()
        .find(|s| s.parameters().id() == codec::Id::AAC)
        .map(|s| s.index())
}

fn secs(ts: i64, tb: Rational) -> f64 {
    ts as f64 * tb.numerator() as f64 / tb.denominator().max(1) as f64
}

fn to_ts(s: f64, tb: Rational) -> i64 {
    (s * tb.denominator() as f64 / tb.numerator().max(1) as f64).round() as i64
}

/// Presentation times (seconds) of the video stream's keyframes, from packet flags (no decode).
pub fn keyframes(path: &Path) -> Result<Vec<f64>, FixError> {
    let (mut ictx, vi) = open_video(path)?;
    let tb = ictx
        .stream(vi)
        .map(|s| s.time_base())
        .unwrap_or(Rational(1, 1));
    let start = ictx.stream(vi).map(|s| stream_start(&s)).unwrap_or(0);
    let mut out = Vec::new();
    for (s, p) in ictx.packets() {
        super::check_interrupt()?;
        if s.index() == vi
            && p.is_key()
            && let Some(pts) = p.pts()
        {
            out.push(secs(pts - start, tb));
        }
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

fn movflags() -> Dictionary<'static> {
    let mut d = Dictionary::new();
    d.set("movflags", "+faststart");
    d
}

/// Copy the display matrix (rotation) of `ist` to `ost`, so a remux shows the video as before.
fn copy_display_matrix(ist: &format::stream::Stream, ost: &mut format::stream::StreamMut) {
    // SAFETY: the pointers come from live streams; the side data is copied, not shared.
    unsafe {
        let mut size: usize = 0;
        let data = ff::ffi::av_stream_get_side_data(
            ist.as_ptr(),
            ff::ffi::AVPacketSideDataType::AV_PKT_DATA_DISPLAYMATRIX,
            &mut size,
        );
        if data.is_null() || size == 0 {
            return;
        }
        let dst = ff::ffi::av_stream_new_side_data(
            ost.as_mut_ptr(),
            ff::ffi::AVPacketSideDataType::AV_PKT_DATA_DISPLAYMATRIX,
            size as _,
        );
        if !dst.is_null() {
            std::ptr::copy_nonoverlapping(data, dst, size);
        }
    }
}

/// Add to `octx` a stream-copy of `ist` (same parameters and time base).
fn copy_stream<'a>(
    octx: &'a mut format::context::Output,
    ist: &format::stream::Stream,
    output: &Path,
) -> Result<format::stream::StreamMut<'a>, FixError> {
    let mut ost = octx
        .add_stream(encoder::find(codec::Id::None))
        .map_err(av(output, "cannot add a stream"))?;
    ost.set_parameters(ist.parameters());
    // SAFETY: clearing the tag lets the MP4 muxer pick its own (avc1/mp4a).
    unsafe { (*ost.parameters().as_mut_ptr()).codec_tag = 0 };
    ost.set_time_base(ist.time_base());
    Ok(ost)
}

/// Stream-copy `input` into an MP4 at `output`, optionally only `[start, end)` seconds (relative to
/// the stream start; `start` must be a keyframe time). Audio is copied when it is AAC and `audio`.
pub fn remux(
    input: &Path,
    output: &Path,
    window: Option<(f64, f64)>,
    audio: bool,
) -> Result<Written, FixError> {
    let (mut ictx, vi) = open_video(input)?;
    let ai = if audio { audio_index(&ictx) } else { None };
    let mut octx = crate::open::av_output_as(output, "mp4").map_err(av(output, "cannot create"))?;
    let mut map = vec![None; ictx.nb_streams() as usize];
    let mut ist_tb = vec![Rational(1, 1); map.len()];
    let mut starts = vec![0i64; map.len()];
    for (n, idx) in [Some(vi), ai].into_iter().flatten().enumerate() {
        let ist = ictx.stream(idx).expect("index from this context");
        let mut ost = copy_stream(&mut octx, &ist, output)?;
        if idx == vi {
            copy_display_matrix(&ist, &mut ost);
        }
        map[idx] = Some(n);
        ist_tb[idx] = ist.time_base();
        starts[idx] = stream_start(&ist);
    }
    octx.write_header_with(movflags())
        .map_err(av(output, "cannot write the MP4 header"))?;
    let ost_tb: Vec<Rational> = (0..octx.nb_streams() as usize)
        .map(|i| {
            octx.stream(i)
                .map(|s| s.time_base())
                .unwrap_or(Rational(1, 1))
        })
        .collect();
    let (start_s, end_s) = window.unwrap_or((0.0, f64::INFINITY));
    if start_s > 0.0 {
        let t = (start_s + secs(starts[vi], ist_tb[vi])) * 1e6;
        let t = t as i64;
        ictx.seek(t, ..t).map_err(av(input, "cannot seek"))?;
    }
    // AVI and raw streams may carry only decode timestamps: let libavformat derive the
    // presentation ones (ffmpeg's `-fflags +genpts`), or no packet could be placed.
    // SAFETY: a flag on the live input context, read by av_read_frame on every call.
    unsafe { (*ictx.as_mut_ptr()).flags |= ff::ffi::AVFMT_FLAG_GENPTS };
    let mut started = window.is_none();
    let mut video_done = false;
    let mut written = Written::default();
    let mut last_end = 0f64;
    for (s, mut p) in ictx.packets() {
        super::check_interrupt()?;
        let idx = s.index();
        let Some(o) = map[idx] else { continue };
        let tb = ist_tb[idx];
        let rel = |ts: i64| secs(ts - starts[idx], tb);
        let Some(pts) = p.pts() else { continue };
        let t = rel(pts);
        if idx == vi {
            if video_done {
                continue;
            }
            if !started {
                // The seek lands on a keyframe at or before the start: wait for the chosen one.
                if p.is_key() && t >= start_s - 1e-3 {
                    started = true;
                } else {
                    continue;
                }
            }
            if t < start_s - 1e-3 {
                continue; // leading pictures of an open GOP
            }
            if t >= end_s - 1e-6 {
                video_done = true;
                if ai.is_none() {
                    break;
                }
                continue;
            }
            written.video_packets += 1;
            let dur = secs(p.duration(), tb);
            last_end = last_end.max(t - start_s + dur);
        } else {
            if !started || t < start_s - 1e-3 {
                continue;
            }
            if t >= end_s {
                if video_done {
                    break;
                }
                continue;
            }
        }
        let shift = to_ts(start_s, tb) + starts[idx];
        p.set_pts(Some(pts - shift));
        p.set_dts(p.dts().map(|d| d - shift));
        p.set_stream(o);
        p.set_position(-1);
        p.rescale_ts(tb, ost_tb[o]);
        p.write_interleaved(&mut octx)
            .map_err(av(output, "cannot write a packet"))?;
    }
    octx.write_trailer()
        .map_err(av(output, "cannot finish the MP4"))?;
    written.duration_s = last_end;
    if written.video_packets == 0 {
        return Err(FixError::Video(format!(
            "{}: no video packets in {start_s:.2}–{end_s:.2} s",
            input.display()
        )));
    }
    Ok(written)
}

/// The filter chain for a transcode: rotation, square pixels + size, constant rate, yuv420p.
fn filter_spec(t: &Transcode) -> String {
    let mut parts = Vec::new();
    match t.rotate {
        90 => parts.push("transpose=clock".to_string()),
        180 => parts.push("hflip,vflip".to_string()),
        270 => parts.push("transpose=cclock".to_string()),
        _ => {}
    }
    parts.push(format!("scale=w={}:h={}:flags=bicubic", t.size.0, t.size.1));
    parts.push("setsar=1".into());
    if let Some(fps) = t.cfr {
        parts.push(format!("fps=fps={fps}"));
    }
    parts.push("format=yuv420p".into());
    parts.join(",")
}

/// Re-encode the video to H.264 yuv420p in MP4 (+faststart), optionally only `[start, end)`
/// seconds. AAC audio in the window is stream-copied when `audio`. `progress`, when given, is set
/// to the frames to encode and advanced as they are written.
pub fn transcode(
    input: &Path,
    output: &Path,
    window: Option<(f64, f64)>,
    t: &Transcode,
    audio: bool,
    x264: &X264,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<Written, FixError> {
    let (mut ictx, vi) = open_video(input)?;
    let ai = if audio { audio_index(&ictx) } else { None };
    let ist = ictx.stream(vi).expect("index from this context");
    let in_tb = ist.time_base();
    let v_start = stream_start(&ist);
    let rate = {
        let r = ist.avg_frame_rate();
        if r.numerator() > 0 && r.denominator() > 0 {
            r
        } else {
            ist.rate()
        }
    };
    let mut dctx = codec::context::Context::from_parameters(ist.parameters())
        .map_err(av(input, "cannot read the codec parameters"))?;
    dctx.set_threading(codec::threading::Config {
        kind: codec::threading::Type::Frame,
        count: 0,
        ..Default::default()
    });
    let mut decoder = dctx
        .decoder()
        .video()
        .map_err(av(input, "no decoder for this codec"))?;
    // Filter graph: buffer → chain → buffersink.
    let mut graph = filter::Graph::new();
    let sar = decoder.aspect_ratio();
    let sar = if sar.numerator() > 0 && sar.denominator() > 0 {
        sar
    } else {
        Rational(1, 1)
    };
    let args = format!(
        "video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}",
        decoder.width(),
        decoder.height(),
        ff::ffi::AVPixelFormat::from(decoder.format()) as i32,
        in_tb.numerator(),
        in_tb.denominator(),
        sar.numerator(),
        sar.denominator()
    );
    let fe = av(input, "cannot build the filter graph");
    graph
        .add(
            &filter::find("buffer")
                .ok_or(ff::Error::FilterNotFound)
                .map_err(&fe)?,
            "in",
            &args,
        )
        .map_err(&fe)?;
    graph
        .add(
            &filter::find("buffersink")
                .ok_or(ff::Error::FilterNotFound)
                .map_err(&fe)?,
            "out",
            "",
        )
        .map_err(&fe)?;
    graph
        .output("in", 0)
        .and_then(|p| p.input("out", 0))
        .and_then(|p| p.parse(&filter_spec(t)))
        .map_err(&fe)?;
    graph.validate().map_err(&fe)?;
    let out_tb = {
        let mut ctx = graph
            .get("out")
            .ok_or(ff::Error::FilterNotFound)
            .map_err(&fe)?;
        // SAFETY: the sink is configured (validate succeeded).
        let r = unsafe { ff::ffi::av_buffersink_get_time_base(ctx.as_mut_ptr()) };
        Rational(r.num, r.den)
    };
    let out_rate = match t.cfr {
        Some(f) => Rational((f * 1000.0).round() as i32, 1000).reduce(),
        None => rate,
    };
    // Encoder.
    let codec = encoder::find_by_name("libx264")
        .ok_or_else(|| FixError::Video("libx264 is not available in this FFmpeg".into()))?;
    let mut octx = crate::open::av_output_as(output, "mp4").map_err(av(output, "cannot create"))?;
    let global = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
    let mut enc = codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(av(output, "cannot set up libx264"))?;
    enc.set_width(t.size.0);
    enc.set_height(t.size.1);
    enc.set_format(format::Pixel::YUV420P);
    enc.set_time_base(out_tb);
    enc.set_frame_rate(Some(out_rate));
    enc.set_aspect_ratio(Rational(1, 1));
    if global {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let mut opts = Dictionary::new();
    opts.set("preset", &x264.preset);
    opts.set("threads", "auto");
    // Capped CRF: quality-driven, with a VBV ceiling when the byte cap binds (never above it, and
    // no bits wasted on easy footage the way a plain average bitrate would).
    opts.set("crf", &x264.crf.to_string());
    if let Some(br) = t.video_bitrate {
        opts.set("maxrate", &br.to_string());
        opts.set("bufsize", &(br * 2).to_string());
    }
    let mut enc = enc
        .open_with(opts)
        .map_err(av(output, "cannot open libx264"))?;
    let mut ost = octx
        .add_stream(codec)
        .map_err(av(output, "cannot add a stream"))?;
    ost.set_parameters(&enc);
    ost.set_time_base(out_tb);
    ost.set_avg_frame_rate(out_rate);
    let mut a_map = None;
    let mut a_tb = Rational(1, 1);
    let mut a_start = 0;
    if let Some(ai) = ai {
        let ast = ictx.stream(ai).expect("index from this context");
        copy_stream(&mut octx, &ast, output)?;
        a_map = Some((ai, 1usize));
        a_tb = ast.time_base();
        a_start = stream_start(&ast);
    }
    octx.write_header_with(movflags())
        .map_err(av(output, "cannot write the MP4 header"))?;
    let v_ost_tb = octx.stream(0).map(|s| s.time_base()).unwrap_or(out_tb);
    let a_ost_tb = octx.stream(1).map(|s| s.time_base()).unwrap_or(a_tb);
    // One frame in the encoder's time base: the packet duration (gotcha 2).
    let frame_dur = {
        let d = out_tb.denominator() as i64 * out_rate.denominator() as i64;
        let n = out_tb.numerator() as i64 * out_rate.numerator() as i64;
        if n > 0 { (d / n).max(1) } else { 1 }
    };
    let (start_s, end_s) = window.unwrap_or((0.0, f64::INFINITY));
    if let Some(pb) = progress {
        let whole = ictx.duration() as f64 / f64::from(ff::ffi::AV_TIME_BASE);
        let len = end_s.min(if whole > 0.0 { whole } else { end_s }) - start_s;
        let fps = f64::from(out_rate.numerator()) / f64::from(out_rate.denominator().max(1));
        if len.is_finite() && fps > 0.0 {
            pb.set_length((len * fps).round().max(1.0) as u64);
        }
        pb.set_position(0);
    }
    if start_s > 0.0 {
        let ts = ((start_s + secs(v_start, in_tb)) * 1e6) as i64;
        ictx.seek(ts, ..ts).map_err(av(input, "cannot seek"))?;
    }
    let start_ts = v_start + to_ts(start_s, in_tb);
    let mut written = Written::default();
    let mut decoded = frame::Video::empty();
    let mut filtered = frame::Video::empty();
    let mut packet = Packet::empty();
    let mut video_done = false;

    // Drain helpers as closures over explicit arguments (borrowck-friendly).
    fn drain_encoder(
        enc: &mut encoder::Video,
        octx: &mut format::context::Output,
        packet: &mut Packet,
        tb: Rational,
        ost_tb: Rational,
        frame_dur: i64,
        written: &mut Written,
    ) -> Result<(), ff::Error> {
        while enc.receive_packet(packet).is_ok() {
            packet.set_stream(0);
            packet.set_duration(frame_dur);
            if let Some(p) = packet.pts() {
                written.duration_s = written.duration_s.max(secs(p + frame_dur, tb));
            }
            packet.rescale_ts(tb, ost_tb);
            packet.set_position(-1);
            written.video_packets += 1;
            packet.write_interleaved(octx)?;
        }
        Ok(())
    }
    #[allow(clippy::too_many_arguments)]
    fn drain_graph(
        graph: &mut filter::Graph,
        enc: &mut encoder::Video,
        octx: &mut format::context::Output,
        filtered: &mut frame::Video,
        packet: &mut Packet,
        tb: Rational,
        ost_tb: Rational,
        frame_dur: i64,
        written: &mut Written,
    ) -> Result<(), ff::Error> {
        let mut sink = graph.get("out").ok_or(ff::Error::FilterNotFound)?;
        while sink.sink().frame(filtered).is_ok() {
            filtered.set_kind(ff::picture::Type::None);
            enc.send_frame(filtered)?;
            drain_encoder(enc, octx, packet, tb, ost_tb, frame_dur, written)?;
        }
        Ok(())
    }

    /// The part of the input being re-encoded, and the encoder's time bases.
    #[derive(Clone, Copy)]
    struct Window {
        start_ts: i64,
        in_tb: Rational,
        length_s: f64,
        out_tb: Rational,
        ost_tb: Rational,
        frame_dur: i64,
    }
    /// Move every frame the decoder has ready into the graph and on to the encoder. Frames before the
    /// window are dropped; returns true once a frame at or past its end appears (decoder output is in
    /// presentation order, so nothing later belongs to the window either).
    #[allow(clippy::too_many_arguments)]
    fn pump(
        decoder: &mut ff::decoder::Video,
        decoded: &mut frame::Video,
        graph: &mut filter::Graph,
        enc: &mut encoder::Video,
        octx: &mut format::context::Output,
        filtered: &mut frame::Video,
        packet: &mut Packet,
        written: &mut Written,
        w: Window,
    ) -> Result<bool, ff::Error> {
        while decoder.receive_frame(decoded).is_ok() {
            let Some(ts) = decoded.timestamp() else {
                continue;
            };
            if ts < w.start_ts - 1 {
                continue;
            }
            if secs(ts - w.start_ts, w.in_tb) >= w.length_s - 1e-6 {
                return Ok(true);
            }
            decoded.set_pts(Some(ts - w.start_ts));
            graph
                .get("in")
                .ok_or(ff::Error::FilterNotFound)
                .and_then(|mut f| f.source().add(decoded))?;
            drain_graph(
                graph,
                enc,
                octx,
                filtered,
                packet,
                w.out_tb,
                w.ost_tb,
                w.frame_dur,
                written,
            )?;
        }
        Ok(false)
    }
    let window = Window {
        start_ts,
        in_tb,
        length_s: end_s - start_s,
        out_tb,
        ost_tb: v_ost_tb,
        frame_dur,
    };

    let we = av(output, "cannot encode");
    for (s, mut p) in ictx.packets() {
        super::check_interrupt()?;
        let idx = s.index();
        if idx == vi {
            if video_done {
                continue;
            }
            decoder
                .send_packet(&p)
                .map_err(av(input, "cannot decode"))?;
            video_done = pump(
                &mut decoder,
                &mut decoded,
                &mut graph,
                &mut enc,
                &mut octx,
                &mut filtered,
                &mut packet,
                &mut written,
                window,
            )
            .map_err(&we)?;
            if let Some(pb) = progress {
                pb.set_position(written.video_packets);
            }
        } else if let Some((ai, ao)) = a_map
            && idx == ai
        {
            let Some(pts) = p.pts() else { continue };
            let t = secs(pts - a_start, a_tb);
            if t < start_s - 1e-3 || t >= end_s {
                if video_done && t >= end_s {
                    break;
                }
                continue;
            }
            let shift = to_ts(start_s, a_tb) + a_start;
            p.set_pts(Some(pts - shift));
            p.set_dts(p.dts().map(|d| d - shift));
            p.set_stream(ao);
            p.set_position(-1);
            p.rescale_ts(a_tb, a_ost_tb);
            p.write_interleaved(&mut octx).map_err(&we)?;
        }
    }
    // Flush decoder → graph → encoder.
    if !video_done {
        let _ = decoder.send_eof();
        pump(
            &mut decoder,
            &mut decoded,
            &mut graph,
            &mut enc,
            &mut octx,
            &mut filtered,
            &mut packet,
            &mut written,
            window,
        )
        .map_err(&we)?;
    }
    graph
        .get("in")
        .ok_or(ff::Error::FilterNotFound)
        .and_then(|mut f| f.source().flush())
        .map_err(&we)?;
    drain_graph(
        &mut graph,
        &mut enc,
        &mut octx,
        &mut filtered,
        &mut packet,
        out_tb,
        v_ost_tb,
        frame_dur,
        &mut written,
    )
    .map_err(&we)?;
    enc.send_eof().map_err(&we)?;
    drain_encoder(
        &mut enc,
        &mut octx,
        &mut packet,
        out_tb,
        v_ost_tb,
        frame_dur,
        &mut written,
    )
    .map_err(&we)?;
    octx.write_trailer()
        .map_err(av(output, "cannot finish the MP4"))?;
    if written.video_packets == 0 {
        return Err(FixError::Video(format!(
            "{}: no frames in {start_s:.2}–{end_s:.2} s",
            input.display()
        )));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A small test clip made with the ffmpeg CLI (skips when it is missing).
    pub(crate) fn clip(dir: &Path, name: &str, args: &[&str]) -> Option<std::path::PathBuf> {
        let out = dir.join(name);
        let ok = Command::new("ffmpeg")
            .args(["-v", "error", "-y"])
            .args(args)
            .arg(&out)
            .status()
            .ok()?
            .success();
        ok.then_some(out)
    }

    fn probe_duration(p: &Path) -> (f64, usize, String) {
        ff::init().unwrap();
        let ictx = format::input(p).unwrap();
        let vi = video_index(&ictx).unwrap();
        let s = ictx.stream(vi).unwrap();
        let d = ictx.duration() as f64 / 1e6;
        (
            d,
            ictx.nb_streams() as usize,
            s.parameters().id().name().to_string(),
        )
    }

    #[test]
    fn keyframes_remux_trim_and_transcode() {
        let dir = tempfile::tempdir().unwrap();
        let Some(src) = clip(
            dir.path(),
            "src.mkv",
            &[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=320x240:rate=25:duration=6",
                "-f",
                "lavfi",
                "-i",
                "sine=duration=6",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "25",
                "-c:a",
                "aac",
            ],
        ) else {
            eprintln!("ffmpeg CLI missing: skipped");
            return;
        };
        let kf = keyframes(&src).unwrap();
        assert!(kf.len() >= 6 && (kf[1] - 1.0).abs() < 0.01, "{kf:?}");
        // Stream-copy trim from the keyframe at 1 s, 3.5 s long, audio kept.
        let out = dir.path().join("trim.mp4");
        let w = remux(&src, &out, Some((1.0, 4.5)), true).unwrap();
        let (d, streams, codec) = probe_duration(&out);
        assert!((d - 3.5).abs() < 0.1, "{d} {w:?}");
        assert_eq!((streams, codec.as_str()), (2, "h264"));
        // Transcode with rotation and a constant rate, exact window.
        let t = Transcode {
            size: (240, 320),
            rotate: 90,
            cfr: Some(20.0),
            video_bitrate: None,
        };
        let out2 = dir.path().join("tc.mp4");
        let x = X264 {
            preset: "ultrafast".into(),
            crf: 23,
        };
        transcode(&src, &out2, Some((0.52, 3.6)), &t, false, &x, None).unwrap();
        let (d, streams, _) = probe_duration(&out2);
        assert!((d - 3.08).abs() < 0.1, "{d}");
        assert_eq!(streams, 1);
        let ictx = format::input(&out2).unwrap();
        let p = ictx.stream(0).unwrap().parameters();
        // SAFETY: reading codecpar fields.
        let (w, h) = unsafe { ((*p.as_ptr()).width, (*p.as_ptr()).height) };
        assert_eq!((w, h), (240, 320));
    }
}
