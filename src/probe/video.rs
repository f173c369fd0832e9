//! The video container prober: container, duration and stream facts of a video file, read in-process
//! through libavformat (FFmpeg 5.1 via ffmpeg-next) without decoding pixels where the header suffices.
//!
//! It exists because every video rule (container, codec, 10-bit/4:4:4, duration, resolution,
//! rotation, VFR, SAR, "is there a video at all") is decided from these facts, and they must be cheap:
//! the engine probes hundreds of files in parallel before any frame is decoded. Each call opens its
//! own `AVFormatContext`, so calls are independent and safe from many threads; [`ensure_ffmpeg`] is
//! the one-time library set-up (shared with the analysis module).
//!
//! Conventions:
//! - `rotation_deg` is the **clockwise** rotation a player applies to display the stored frames,
//!   normalised to [0, 360). libavutil's `av_display_rotation_get` returns the counter-clockwise
//!   angle (ffprobe prints it as `rotation=-90` for a typical iPhone portrait clip), so we negate it:
//!   that clip reports 90 and displays as portrait. Beware FFmpeg 5.1's CLI: `-c copy
//!   -metadata:s:v:0 rotate=90` stores a matrix ffprobe prints as `rotation=90` (counter-clockwise;
//!   ffmpeg's own autorotate turns it counter-clockwise), which we report as 270. It writes no matrix
//!   at all when re-encoding.
//! - Container: the ISO-BMFF family ("mov,mp4,...") is told apart by the `major_brand` tag (`qt  ` →
//!   mov, `M4V `/`M4VH`/`M4VP` → m4v, `3gp*`/`3g2*`/`mj2*` → 3gp, no brand at all → mov, as only
//!   pre-2001 QuickTime files lack an `ftyp`, anything else → mp4). "matroska,webm" is split by the
//!   DocType in the EBML header, read by us (`ebml`); if that cannot be read, by the codecs (only
//!   VP8/VP9/AV1 video and Vorbis/Opus audio → webm).
//! - Duration: the container's when it has one ("container"), else the longest stream duration
//!   ("stream"), else from packet timestamps ("packets"; reading at most [`PACKET_CAP`] packets and
//!   extrapolating by byte position beyond that).
//! - VFR: the intervals between the presentation timestamps of at most `timing::MAX_FRAMES` frames
//!   (from the MP4/MOV sample index when it is complete, which costs no I/O, else from packets):
//!   more than 10% of them (and at least two) off the median by more than 25% means VFR.
//!   r_frame_rate vs avg_frame_rate is not used: it is unreliable on truncated or edit-listed files.
//! - Cost: `avformat_find_stream_info` decodes frames (up to 7 for H.264 without B-frames) and is
//!   most of a probe's time, so it runs only when the header leaves a reported fact missing
//!   (pix_fmt, size, average frame rate, sample rate, channels). For H.264 (MP4/MOV/MKV) we read
//!   pix_fmt, profile and the VUI aspect ratio from the SPS in the extradata (`h264`), which makes
//!   those files header-only (≈0.6 ms a probe). WEBM/VP9 and MPEG-TS still go through it.

mod ebml;
mod extent;
mod h264;
mod timing;

use std::ffi::{CStr, CString};
use std::path::Path;
use std::ptr;
use std::sync::Once;

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;
use ffmpeg_next::packet::Ref as _;

use super::ProbeError;
use crate::model::{AudioStreamFacts, Container, VideoFacts, VideoStreamFacts};

pub use self::ebml::read_doctype;

/// Upper bound on packets read when the duration has to come from packet timestamps.
pub const PACKET_CAP: u64 = 100_000;

/// Initialise FFmpeg once per process. Cheap after the first call; call it before any other FFmpeg
/// use. FFmpeg's own log level is the embedding program's choice (`host::set`; the command-line tool
/// keeps it quiet unless `KLING_PREFLIGHT_FFMPEG_LOG` is set).
pub fn ensure_ffmpeg() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = ffmpeg::init();
    });
}

/// Read a video's container and stream facts through libavformat (no pixel decode where avoidable).
///
/// `bytes` is the file size the caller already knows. Errors: `Unreadable` with FFmpeg's reason when
/// libavformat cannot open the file or finds no streams; `Io` when the file cannot be opened at all
/// (missing, no permission, a directory). A file with only audio or only cover art is
/// not an error: it gets `video: None`.
pub fn probe_video(path: &Path, bytes: u64) -> Result<VideoFacts, ProbeError> {
    ensure_ffmpeg();
    let mut input = open(path)?;
    let ps = unsafe { input.as_mut_ptr() };
    // SAFETY: `ps` is a valid, opened AVFormatContext owned by `input` for this whole function.
    unsafe {
        if (*ps).nb_streams == 0 {
            run_find_stream_info(ps);
        }
        if (*ps).nb_streams == 0 || (*ps).streams.is_null() {
            return Err(ProbeError::Unreadable(
                "no streams found (not a media file libavformat can read)".into(),
            ));
        }
        let mut sel = select_streams(ps);
        if let Some(i) = sel.video {
            fill_h264_from_sps(stream(ps, i));
        }
        if needs_stream_info(ps, &sel) {
            run_find_stream_info(ps);
            // find_stream_info may add streams (MPEG-TS) or fill in dispositions.
            sel = select_streams(ps);
        }
        Ok(collect(path, &mut input, bytes, &sel))
    }
}

/// Open `path` with libavformat, local files only (no protocols, no network), by its descriptor: a
/// non-UTF-8 name, a `:` in the name and a FIFO are all handled by `crate::open`.
fn open(path: &Path) -> Result<ffmpeg::format::context::Input, ProbeError> {
    crate::open::av_input(path).map_err(|e| match e {
        crate::open::AvOpenError::Io(e) => ProbeError::Io(e),
        crate::open::AvOpenError::Av(code) => open_error(code),
    })
}

/// A file-system failure (missing, permission, a directory) is `Io`; anything libavformat says
/// about the content is `Unreadable` with its text.
fn open_error(code: i32) -> ProbeError {
    let errno = -code;
    let fs = [
        libc_errno::ENOENT,
        libc_errno::EACCES,
        libc_errno::EPERM,
        libc_errno::EISDIR,
        libc_errno::ENOTDIR,
        libc_errno::EIO,
        libc_errno::ELOOP,
        libc_errno::EMFILE,
        libc_errno::ENFILE,
    ];
    if code < 0 && fs.contains(&errno) {
        ProbeError::Io(std::io::Error::from_raw_os_error(errno))
    } else {
        ProbeError::Unreadable(av_error_text(code))
    }
}

/// The Linux errno values libavformat passes through as AVERROR(e) when opening a file.
mod libc_errno {
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const EIO: i32 = 5;
    pub const EACCES: i32 = 13;
    pub const ENOTDIR: i32 = 20;
    pub const EISDIR: i32 = 21;
    pub const ENFILE: i32 = 23;
    pub const EMFILE: i32 = 24;
    pub const ELOOP: i32 = 40;
}

/// FFmpeg's text for an error code ("Invalid data found when processing input").
fn av_error_text(code: i32) -> String {
    let mut buf = [0 as std::ffi::c_char; 256];
    // SAFETY: av_strerror writes a NUL-terminated string of at most buf.len() bytes.
    unsafe {
        if ffi::av_strerror(code, buf.as_mut_ptr(), buf.len()) == 0 {
            return CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned();
        }
    }
    format!("FFmpeg error {code}")
}

unsafe fn run_find_stream_info(ps: *mut ffi::AVFormatContext) {
    // SAFETY: caller passes an opened context. Failure is not fatal: we report what we have.
    unsafe {
        ffi::avformat_find_stream_info(ps, ptr::null_mut());
    }
}

/// The streams we report on.
struct Selection {
    video: Option<usize>,
    audio: Option<usize>,
    cover_art: usize,
}

unsafe fn stream(ps: *const ffi::AVFormatContext, i: usize) -> *mut ffi::AVStream {
    // SAFETY: caller guarantees i < nb_streams.
    unsafe { *(*ps).streams.add(i) }
}

unsafe fn select_streams(ps: *const ffi::AVFormatContext) -> Selection {
    let mut sel = Selection {
        video: None,
        audio: None,
        cover_art: 0,
    };
    // SAFETY: indices below nb_streams; streams and codecpar are set by libavformat.
    unsafe {
        for i in 0..(*ps).nb_streams as usize {
            let st = stream(ps, i);
            if st.is_null() || (*st).codecpar.is_null() {
                continue;
            }
            let par = &*(*st).codecpar;
            match par.codec_type {
                ffi::AVMediaType::AVMEDIA_TYPE_VIDEO => {
                    if (*st).disposition & ffi::AV_DISPOSITION_ATTACHED_PIC != 0 {
                        sel.cover_art += 1;
                    } else if sel.video.is_none() {
                        sel.video = Some(i);
                    }
                }
                ffi::AVMediaType::AVMEDIA_TYPE_AUDIO if sel.audio.is_none() => sel.audio = Some(i),
                _ => {}
            }
        }
    }
    sel
}

/// For H.264 without a pixel format in the header (MP4/MOV/MKV: always), fill pixel format, profile
/// and (VUI) sample aspect ratio in from the SPS in the extradata, as the decoder would: this spares
/// `avformat_find_stream_info` its frame decoding (see [`h264`]).
unsafe fn fill_h264_from_sps(st: *mut ffi::AVStream) {
    // SAFETY: codecpar of a valid stream; extradata is extradata_size bytes when non-null.
    unsafe {
        let par = &mut *(*st).codecpar;
        if par.codec_id != ffi::AVCodecID::AV_CODEC_ID_H264
            || par.format >= 0
            || par.extradata.is_null()
            || par.extradata_size <= 0
        {
            return;
        }
        let ed = std::slice::from_raw_parts(par.extradata, par.extradata_size as usize);
        let Some(sps) = h264::parse_extradata(ed) else {
            return;
        };
        let full = par.color_range == ffi::AVColorRange::AVCOL_RANGE_JPEG;
        let rgb = par.color_space == ffi::AVColorSpace::AVCOL_SPC_RGB;
        let Some(name) = h264::pix_fmt_name(&sps, full, rgb).and_then(|n| CString::new(n).ok())
        else {
            return;
        };
        let fmt = ffi::av_get_pix_fmt(name.as_ptr()) as i32;
        if fmt < 0 {
            return;
        }
        par.format = fmt;
        if par.profile < 0 {
            par.profile = sps.profile;
        }
        if let Some((n, d)) = sps.sar
            && (par.sample_aspect_ratio.num <= 0 || par.sample_aspect_ratio.den <= 0)
        {
            par.sample_aspect_ratio = ffi::AVRational {
                num: n as i32,
                den: d as i32,
            };
        }
    }
}

/// Whether the header left out a fact we report, so `avformat_find_stream_info` must fill it in.
unsafe fn needs_stream_info(ps: *const ffi::AVFormatContext, sel: &Selection) -> bool {
    // SAFETY: selected indices are valid streams with codecpar.
    unsafe {
        if let Some(i) = sel.video {
            let st = stream(ps, i);
            let par = &*(*st).codecpar;
            let rate_ok = (*st).avg_frame_rate.num > 0 && (*st).avg_frame_rate.den > 0;
            if par.codec_id == ffi::AVCodecID::AV_CODEC_ID_NONE
                || par.width <= 0
                || par.height <= 0
                || par.format < 0
                || !rate_ok
            {
                return true;
            }
        }
        if let Some(i) = sel.audio {
            let par = &*(*stream(ps, i)).codecpar;
            if par.codec_id == ffi::AVCodecID::AV_CODEC_ID_NONE
                || par.sample_rate <= 0
                || par.ch_layout.nb_channels <= 0
            {
                return true;
            }
        }
        sel.video.is_none() && sel.audio.is_none()
    }
}

fn cstr(p: *const std::ffi::c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: libav* returns static NUL-terminated names.
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

unsafe fn dict_get(dict: *const ffi::AVDictionary, key: &CStr) -> Option<String> {
    // SAFETY: av_dict_get accepts NULL dictionaries.
    unsafe {
        let e = ffi::av_dict_get(dict, key.as_ptr(), ptr::null(), 0);
        if e.is_null() { None } else { cstr((*e).value) }
    }
}

fn q2f(q: ffi::AVRational) -> Option<f64> {
    (q.num > 0 && q.den > 0).then(|| q.num as f64 / q.den as f64)
}

fn codec_name(id: ffi::AVCodecID) -> String {
    // SAFETY: avcodec_get_name never returns NULL.
    cstr(unsafe { ffi::avcodec_get_name(id) }).unwrap_or_else(|| "unknown".into())
}

/// Pixel format name, bit depth and chroma layout, from libavutil's descriptor table. The integer in
/// codecpar is matched against the table rather than cast to the enum (an unknown value would be UB).
fn pix_fmt_facts(format: i32) -> (Option<String>, Option<u8>, Option<String>) {
    if format < 0 {
        return (None, None, None);
    }
    // SAFETY: iterating libavutil's static descriptor table.
    unsafe {
        let mut d = ffi::av_pix_fmt_desc_next(ptr::null());
        while !d.is_null() {
            if ffi::av_pix_fmt_desc_get_id(d) as i32 == format {
                let desc = &*d;
                let name = cstr(desc.name);
                let depth = u8::try_from(desc.comp[0].depth).ok();
                let flags = desc.flags;
                let chroma = if flags & (ffi::AV_PIX_FMT_FLAG_RGB as u64) != 0
                    || flags & (ffi::AV_PIX_FMT_FLAG_PAL as u64) != 0
                {
                    "rgb"
                } else if desc.nb_components <= 2 {
                    "4:0:0"
                } else {
                    match (desc.log2_chroma_w, desc.log2_chroma_h) {
                        (0, 0) => "4:4:4",
                        (1, 0) => "4:2:2",
                        (1, 1) => "4:2:0",
                        (2, 0) => "4:1:1",
                        (2, 2) => "4:1:0",
                        (0, 1) => "4:4:0",
                        _ => "other",
                    }
                };
                return (name, depth, Some(chroma.to_string()));
            }
            d = ffi::av_pix_fmt_desc_next(d);
        }
    }
    (None, None, None)
}

/// Clockwise display rotation in degrees, [0, 360); 0 without a display matrix.
unsafe fn rotation_cw(st: *const ffi::AVStream) -> f64 {
    // SAFETY: side data of a valid stream; the matrix is 9 int32 when size >= 36.
    unsafe {
        let mut size: usize = 0;
        let m = ffi::av_stream_get_side_data(
            st,
            ffi::AVPacketSideDataType::AV_PKT_DATA_DISPLAYMATRIX,
            &mut size,
        );
        if m.is_null() || size < 9 * 4 {
            return 0.0;
        }
        let ccw = ffi::av_display_rotation_get(m as *const i32);
        normalise_cw(ccw)
    }
}

/// Counter-clockwise degrees (libavutil's convention) → clockwise, in [0, 360), rounded to 1e-6.
fn normalise_cw(ccw: f64) -> f64 {
    if !ccw.is_finite() {
        return 0.0;
    }
    let cw = ((-ccw).rem_euclid(360.0) * 1e6).round() / 1e6;
    if cw >= 360.0 || cw == 0.0 { 0.0 } else { cw }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn reduce(num: i32, den: i32) -> (u32, u32) {
    if num <= 0 || den <= 0 {
        return (1, 1);
    }
    let (n, d) = (num as u32, den as u32);
    let g = gcd(n, d).max(1);
    (n / g, d / g)
}

/// Container from demuxer name, ISO-BMFF brand, Matroska DocType and codecs.
pub fn classify_container(
    format_name: &str,
    major_brand: Option<&str>,
    doctype: Option<&str>,
    codecs: &[String],
) -> Container {
    let first = format_name.split(',').next().unwrap_or("");
    match first {
        "mov" => match major_brand.map(|b| b.trim_end_matches(['\0', ' '])) {
            None | Some("qt") => Container::Mov,
            Some("M4V" | "M4VH" | "M4VP") => Container::M4v,
            Some(b) if b.starts_with("3gp") || b.starts_with("3g2") || b.starts_with("mj2") => {
                Container::ThreeGp
            }
            Some("") => Container::Mov,
            Some(_) => Container::Mp4,
        },
        "matroska" => match doctype {
            Some("webm") => Container::Webm,
            Some(_) => Container::Mkv,
            None => {
                let webm_codecs = ["vp8", "vp9", "av1", "vorbis", "opus", "webvtt"];
                if !codecs.is_empty() && codecs.iter().all(|c| webm_codecs.contains(&c.as_str())) {
                    Container::Webm
                } else {
                    Container::Mkv
                }
            }
        },
        "webm" => Container::Webm,
        "avi" => Container::Avi,
        "mpegts" | "mpegtsraw" => Container::Mpegts,
        "flv" | "live_flv" => Container::Flv,
        "ogg" => Container::Ogg,
        "mpeg" => Container::Mpeg,
        "asf" | "asf_o" => Container::Asf,
        _ => Container::Other,
    }
}

/// Timestamps gathered for timing decisions.
#[derive(Default)]
struct Scan {
    /// Presentation (or decode) timestamps of the scanned stream, at most `timing::MAX_FRAMES`.
    ts: Vec<i64>,
    /// Packets of the scanned stream seen.
    packets: u64,
    /// The scan reached the end of the stream (so `packets` is its frame count).
    complete: bool,
    /// Smallest timestamp and largest end (timestamp + duration) of the scanned stream.
    start: Option<i64>,
    end: Option<i64>,
    /// Byte position of the last packet read (for extrapolating a capped scan).
    last_pos: i64,
}

/// The sample index of an MP4/MOV stream: decode timestamps of every (non-discarded) sample, no I/O.
/// `None` when the index looks incomplete (fragmented MP4), so packets must be read instead.
unsafe fn scan_mov_index(st: *mut ffi::AVStream) -> Option<Scan> {
    // SAFETY: index accessors on a valid stream of an open context.
    unsafe {
        let n = ffi::avformat_index_get_entries_count(st);
        if n < 2 {
            return None;
        }
        let mut scan = Scan::default();
        let mut last_ts = None;
        for i in 0..n {
            let e = ffi::avformat_index_get_entry(st, i);
            if e.is_null() {
                return None;
            }
            let t = (*e).timestamp;
            // Samples an edit list cuts off still carry the track's cadence (their decode timestamps
            // fill the gaps), so they are judged, but not counted as frames.
            if scan.ts.len() < timing::MAX_FRAMES {
                scan.ts.push(t);
            }
            if (*e).flags() & ffi::AVINDEX_DISCARD_FRAME != 0 {
                continue;
            }
            scan.packets += 1;
            scan.start = Some(scan.start.map_or(t, |s: i64| s.min(t)));
            last_ts = Some(last_ts.map_or(t, |l: i64| l.max(t)));
        }
        let nb = (*st).nb_frames;
        if nb > 0 && (scan.packets as i64) < nb {
            return None;
        }
        // Fragmented files index only what has been read: require the index to reach the stream's
        // declared duration (within 10%), when it has one.
        let dur = (*st).duration;
        if nb <= 0 && dur > 0 && dur != ffi::AV_NOPTS_VALUE {
            let covered = last_ts? - scan.start?;
            if (covered as f64) < 0.9 * dur as f64 {
                return None;
            }
        }
        scan.complete = true;
        scan.end = last_ts;
        Some(scan)
    }
}

/// Read packets of stream `target` (others discarded): timestamps of the first `MAX_FRAMES`, and,
/// when `to_end`, on to the end of the file (at most `PACKET_CAP` packets) for the duration.
unsafe fn scan_packets(
    input: &mut ffmpeg::format::context::Input,
    target: usize,
    to_end: bool,
) -> Scan {
    let mut scan = Scan::default();
    // SAFETY: the context is open; discard flags are plain fields; packets are owned by `pkt`.
    unsafe {
        let ps = input.as_mut_ptr();
        for i in 0..(*ps).nb_streams as usize {
            let st = stream(ps, i);
            if st.is_null() {
                continue;
            }
            (*st).discard = if i == target {
                ffi::AVDiscard::AVDISCARD_DEFAULT
            } else {
                ffi::AVDiscard::AVDISCARD_ALL
            };
        }
        let mut read: u64 = 0;
        loop {
            if read >= PACKET_CAP {
                break;
            }
            // av_read_frame does not free what the packet held: without this every packet read
            // stays allocated until the scan ends (ten 100 MB MKVs once took 1 GB).
            let mut pkt = ffmpeg::Packet::empty();
            match pkt.read(input) {
                Ok(()) => {}
                Err(ffmpeg::Error::Eof) => {
                    scan.complete = true;
                    break;
                }
                Err(_) => {
                    // Corrupt data: libavformat usually resyncs; give up after a few failures.
                    read += PACKET_CAP / 1000;
                    continue;
                }
            }
            read += 1;
            let raw = pkt.as_ptr();
            if (*raw).stream_index as usize != target {
                continue;
            }
            scan.packets += 1;
            let t = if (*raw).pts != ffi::AV_NOPTS_VALUE {
                (*raw).pts
            } else {
                (*raw).dts
            };
            if (*raw).pos >= 0 {
                scan.last_pos = (*raw).pos;
            }
            if t != ffi::AV_NOPTS_VALUE {
                scan.start = Some(scan.start.map_or(t, |s| s.min(t)));
                let e = t.saturating_add((*raw).duration.max(0));
                scan.end = Some(scan.end.map_or(e, |x| x.max(e)));
                if scan.ts.len() < timing::MAX_FRAMES {
                    scan.ts.push(t);
                }
            }
            if !to_end && scan.ts.len() >= timing::MAX_FRAMES {
                break;
            }
        }
    }
    scan
}

/// Gather all facts from an opened context (streams already selected, stream info done if needed).
unsafe fn collect(
    path: &Path,
    input: &mut ffmpeg::format::context::Input,
    bytes: u64,
    sel: &Selection,
) -> VideoFacts {
    // SAFETY: `input` is an open context; selected indices are valid streams.
    unsafe {
        let ps = input.as_mut_ptr();
        let format_name = if (*ps).iformat.is_null() {
            String::new()
        } else {
            cstr((*(*ps).iformat).name).unwrap_or_default()
        };
        let major_brand = dict_get((*ps).metadata, c"major_brand");
        let is_mov = format_name.starts_with("mov,");
        let is_matroska = format_name.starts_with("matroska");

        // Duration: container, then streams.
        let mut duration_s = None;
        let mut duration_source = None;
        if (*ps).duration != ffi::AV_NOPTS_VALUE && (*ps).duration > 0 {
            duration_s = Some((*ps).duration as f64 / ffi::AV_TIME_BASE as f64);
            duration_source = Some("container");
        } else {
            let mut best: Option<f64> = None;
            for i in 0..(*ps).nb_streams as usize {
                let st = stream(ps, i);
                if st.is_null() {
                    continue;
                }
                let d = (*st).duration;
                if d != ffi::AV_NOPTS_VALUE
                    && d > 0
                    && let Some(tb) = q2f((*st).time_base)
                {
                    let secs = d as f64 * tb;
                    best = Some(best.map_or(secs, |b| b.max(secs)));
                }
            }
            if best.is_some() {
                duration_s = best;
                duration_source = Some("stream");
            }
        }

        // Timestamps: the video stream (else the first audio stream, only for a missing duration).
        let target = sel.video.or(if duration_s.is_none() {
            sel.audio
        } else {
            None
        });
        let mut scan = None;
        if let Some(t) = target {
            let st = stream(ps, t);
            if is_mov && duration_s.is_some() {
                scan = scan_mov_index(st);
            }
            if scan.is_none() {
                scan = Some(scan_packets(input, t, duration_s.is_none()));
            }
        }
        if duration_s.is_none()
            && let (Some(sc), Some(t)) = (&scan, target)
            && let (Some(a), Some(b), Some(tb)) =
                (sc.start, sc.end, q2f((*stream(ps, t)).time_base))
        {
            let mut secs = (b - a).max(0) as f64 * tb;
            // A capped scan: extrapolate by how far into the file it got.
            if !sc.complete && sc.last_pos > 0 && bytes > sc.last_pos as u64 {
                secs *= bytes as f64 / sc.last_pos as f64;
            }
            if secs > 0.0 {
                duration_s = Some(secs);
                duration_source = Some("packets");
            }
        }

        let bit_rate = if (*ps).bit_rate > 0 {
            Some((*ps).bit_rate as u64)
        } else {
            duration_s
                .filter(|&d| d > 0.0 && bytes > 0)
                .map(|d| (bytes as f64 * 8.0 / d).round() as u64)
        };

        let video = sel.video.map(|i| {
            let st = stream(ps, i);
            let mut v = video_facts(ps, st, i, scan.as_mut().filter(|_| target == Some(i)));
            v.declared_duration_s = declared_duration(ps, st, sel.audio.is_none());
            v
        });

        let audio = sel.audio.map(|i| {
            let par = &*(*stream(ps, i)).codecpar;
            let ch = if par.ch_layout.nb_channels > 0 {
                par.ch_layout.nb_channels
            } else {
                #[allow(deprecated)]
                par.channels
            };
            AudioStreamFacts {
                index: i,
                codec: codec_name(par.codec_id),
                channels: u32::try_from(ch).ok().filter(|&c| c > 0),
                sample_rate: u32::try_from(par.sample_rate).ok().filter(|&r| r > 0),
            }
        });

        let doctype = if is_matroska {
            read_doctype(path)
        } else {
            None
        };
        let codecs: Vec<String> = (0..(*ps).nb_streams as usize)
            .filter_map(|i| {
                let st = stream(ps, i);
                let par = if st.is_null() {
                    ptr::null_mut()
                } else {
                    (*st).codecpar
                };
                (!par.is_null()
                    && matches!(
                        (*par).codec_type,
                        ffi::AVMediaType::AVMEDIA_TYPE_VIDEO | ffi::AVMediaType::AVMEDIA_TYPE_AUDIO
                    ))
                .then(|| codec_name((*par).codec_id))
            })
            .collect();
        let container = classify_container(
            &format_name,
            major_brand.as_deref(),
            doctype.as_deref(),
            &codecs,
        );

        VideoFacts {
            container,
            format_name,
            major_brand,
            bytes,
            duration_s,
            duration_source: duration_source.map(str::to_string),
            bit_rate,
            video,
            audio,
            cover_art_streams: sel.cover_art,
            declared_bytes: extent::declared_end(path, bytes, is_matroska, is_mov),
            analysis: None,
        }
    }
}

/// The duration the header declares for stream `st`: its own, else its Matroska `DURATION` tag,
/// else (`alone`: no audio stream that could be the longer one) the container's, unless libavformat
/// guessed that from the bit rate.
unsafe fn declared_duration(
    ps: *const ffi::AVFormatContext,
    st: *const ffi::AVStream,
    alone: bool,
) -> Option<f64> {
    // SAFETY: plain field reads of a valid stream of an open context.
    unsafe {
        let guessed = (*ps).duration_estimation_method
            == ffi::AVDurationEstimationMethod::AVFMT_DURATION_FROM_BITRATE;
        if guessed {
            return None;
        }
        let d = (*st).duration;
        if d > 0
            && d != ffi::AV_NOPTS_VALUE
            && let Some(tb) = q2f((*st).time_base)
        {
            return Some(d as f64 * tb);
        }
        if let Some(t) = dict_get((*st).metadata, c"DURATION").and_then(|t| parse_hms(&t)) {
            return Some(t);
        }
        let c = (*ps).duration;
        (alone && c > 0 && c != ffi::AV_NOPTS_VALUE).then(|| c as f64 / ffi::AV_TIME_BASE as f64)
    }
}

/// "HH:MM:SS.fraction" (Matroska statistics tags) in seconds.
fn parse_hms(t: &str) -> Option<f64> {
    let mut parts = t.trim().split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    (parts.next().is_none() && h >= 0.0 && m >= 0.0 && s >= 0.0)
        .then_some(h * 3600.0 + m * 60.0 + s)
}

unsafe fn video_facts(
    ps: *mut ffi::AVFormatContext,
    st: *mut ffi::AVStream,
    index: usize,
    scan: Option<&mut Scan>,
) -> VideoStreamFacts {
    // SAFETY: valid stream of an open context.
    unsafe {
        let par = &*(*st).codecpar;
        let (pix_fmt, bit_depth, chroma) = pix_fmt_facts(par.format);
        let profile = if par.profile >= 0 {
            cstr(ffi::avcodec_profile_name(par.codec_id, par.profile))
        } else {
            None
        };
        let sar = ffi::av_guess_sample_aspect_ratio(ps, st, ptr::null_mut());
        let (sar_num, sar_den) = reduce(sar.num, sar.den);
        let tb = q2f((*st).time_base).unwrap_or(0.0);

        let cadence = scan.map(|sc| {
            let c = timing::cadence(&mut sc.ts);
            (c, sc.complete.then_some(sc.packets))
        });
        let (cad, counted) = match cadence {
            Some((c, n)) => (c, n),
            None => (None, None),
        };
        let frames = if (*st).nb_frames > 0 {
            Some((*st).nb_frames as u64)
        } else {
            counted.filter(|&n| n > 0)
        };
        let fps_nominal =
            q2f((*st).r_frame_rate).or_else(|| cad.as_ref().and_then(|c| c.nominal_fps(tb)));
        let fps_avg =
            q2f((*st).avg_frame_rate).or_else(|| cad.as_ref().and_then(|c| c.average_fps(tb)));

        VideoStreamFacts {
            index,
            codec: codec_name(par.codec_id),
            profile,
            pix_fmt,
            bit_depth,
            chroma,
            width: par.width.max(0) as u32,
            height: par.height.max(0) as u32,
            sar_num,
            sar_den,
            rotation_deg: rotation_cw(st),
            fps_nominal,
            fps_avg,
            frames,
            vfr: cad.as_ref().is_some_and(timing::Cadence::is_vfr),
            bit_rate: (par.bit_rate > 0).then_some(par.bit_rate as u64),
            declared_duration_s: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_sign_convention() {
        // libavutil: counter-clockwise; ours: clockwise in [0, 360).
        assert_eq!(normalise_cw(-90.0), 90.0);
        assert_eq!(normalise_cw(90.0), 270.0);
        assert_eq!(normalise_cw(180.0), 180.0);
        assert_eq!(normalise_cw(-180.0), 180.0);
        assert_eq!(normalise_cw(0.0), 0.0);
        assert_eq!(normalise_cw(-0.0), 0.0);
        assert_eq!(normalise_cw(f64::NAN), 0.0);
        assert_eq!(normalise_cw(-360.0), 0.0);
    }

    #[test]
    fn containers_by_brand_and_doctype() {
        let mov = "mov,mp4,m4a,3gp,3g2,mj2";
        assert_eq!(
            classify_container(mov, Some("qt  "), None, &[]),
            Container::Mov
        );
        assert_eq!(
            classify_container(mov, Some("isom"), None, &[]),
            Container::Mp4
        );
        assert_eq!(
            classify_container(mov, Some("mp42"), None, &[]),
            Container::Mp4
        );
        assert_eq!(
            classify_container(mov, Some("M4V "), None, &[]),
            Container::M4v
        );
        assert_eq!(
            classify_container(mov, Some("M4VP"), None, &[]),
            Container::M4v
        );
        assert_eq!(
            classify_container(mov, Some("3gp5"), None, &[]),
            Container::ThreeGp
        );
        assert_eq!(
            classify_container(mov, Some("3g2a"), None, &[]),
            Container::ThreeGp
        );
        assert_eq!(classify_container(mov, None, None, &[]), Container::Mov);
        let mkv = "matroska,webm";
        assert_eq!(
            classify_container(mkv, None, Some("webm"), &[]),
            Container::Webm
        );
        assert_eq!(
            classify_container(mkv, None, Some("matroska"), &[]),
            Container::Mkv
        );
        let s = |v: &[&str]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        assert_eq!(
            classify_container(mkv, None, None, &s(&["vp9", "opus"])),
            Container::Webm
        );
        assert_eq!(
            classify_container(mkv, None, None, &s(&["h264", "opus"])),
            Container::Mkv
        );
        assert_eq!(classify_container("avi", None, None, &[]), Container::Avi);
        assert_eq!(
            classify_container("mpegts", None, None, &[]),
            Container::Mpegts
        );
        assert_eq!(classify_container("mp3", None, None, &[]), Container::Other);
    }

    #[test]
    fn pixel_formats() {
        let id = |n: &CStr| unsafe { ffi::av_get_pix_fmt(n.as_ptr()) as i32 };
        let f = pix_fmt_facts(id(c"yuv420p10le"));
        assert_eq!(
            f,
            (Some("yuv420p10le".into()), Some(10), Some("4:2:0".into()))
        );
        assert_eq!(pix_fmt_facts(id(c"yuv444p")).2.as_deref(), Some("4:4:4"));
        assert_eq!(pix_fmt_facts(id(c"yuv422p")).2.as_deref(), Some("4:2:2"));
        assert_eq!(pix_fmt_facts(id(c"gray")).2.as_deref(), Some("4:0:0"));
        assert_eq!(pix_fmt_facts(id(c"rgb24")).2.as_deref(), Some("rgb"));
        assert_eq!(pix_fmt_facts(-1), (None, None, None));
        assert_eq!(pix_fmt_facts(1_000_000), (None, None, None));
    }

    #[test]
    fn sar_reduction() {
        assert_eq!(reduce(0, 1), (1, 1));
        assert_eq!(reduce(256, 234), (128, 117));
        assert_eq!(reduce(-1, 5), (1, 1));
    }
}
