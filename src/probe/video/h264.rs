//! Reads the few H.264 sequence-parameter-set fields the prober reports (profile, chroma format, bit
//! depth, range, matrix, sample aspect ratio) straight from the stream's extradata (avcC or Annex B).
//!
//! Why: for H.264, libavformat's MP4/MOV/MKV headers carry everything except the pixel format, and
//! `avformat_find_stream_info` fills that in by *decoding* frames: up to 7 of them when the stream
//! has no B-frames, which dominated probe time (≈75% on small clips, far more on 1080p/4K). The SPS
//! says the same thing in a few dozen bytes. The pixel format is chosen exactly as FFmpeg 5.1's H.264
//! decoder does (`get_pixel_format` in h264_slice.c), so the facts match ffprobe's.

/// What the SPS tells us, in FFmpeg's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Sps {
    /// FFmpeg profile number (profile_idc with the constrained/intra flags FFmpeg adds).
    pub profile: i32,
    pub chroma_format_idc: u32,
    pub bit_depth: u32,
    /// VUI video_full_range_flag, when the VUI signals it.
    pub full_range: Option<bool>,
    /// VUI matrix_coefficients, when the VUI has a colour description.
    pub matrix: Option<u32>,
    /// VUI sample aspect ratio, when given (0:0 "unspecified" is `None`).
    pub sar: Option<(u32, u32)>,
}

const FF_PROFILE_H264_CONSTRAINED: i32 = 1 << 9;
const FF_PROFILE_H264_INTRA: i32 = 1 << 11;

/// Parse the first SPS in `extradata` (an avcC record or Annex B start-code stream).
pub fn parse_extradata(extradata: &[u8]) -> Option<Sps> {
    let nal = first_sps_nal(extradata)?;
    parse_sps(&unescape(nal.get(1..)?))
}

/// The pixel format name FFmpeg 5.1's decoder would pick for this SPS, given the container's colour
/// range and matrix (the SPS overrides them when its VUI signals them).
pub fn pix_fmt_name(
    sps: &Sps,
    container_full_range: bool,
    container_rgb_matrix: bool,
) -> Option<String> {
    let full = sps.full_range.unwrap_or(container_full_range);
    let rgb = match sps.matrix {
        Some(m) if sps.full_range.is_some() => m == 0,
        _ => container_rgb_matrix,
    };
    let (c444, c422) = (sps.chroma_format_idc == 3, sps.chroma_format_idc == 2);
    let name = match sps.bit_depth {
        8 => {
            if c444 {
                if rgb {
                    "gbrp".to_string()
                } else if full {
                    "yuvj444p".to_string()
                } else {
                    "yuv444p".to_string()
                }
            } else if c422 {
                if full { "yuvj422p" } else { "yuv422p" }.to_string()
            } else if full {
                "yuvj420p".to_string()
            } else {
                "yuv420p".to_string()
            }
        }
        d @ (9 | 10 | 12 | 14) => {
            if c444 {
                if rgb {
                    format!("gbrp{d}le")
                } else {
                    format!("yuv444p{d}le")
                }
            } else if c422 {
                format!("yuv422p{d}le")
            } else {
                format!("yuv420p{d}le")
            }
        }
        _ => return None,
    };
    Some(name)
}

fn first_sps_nal(ed: &[u8]) -> Option<&[u8]> {
    if ed.first() == Some(&1) && ed.len() > 8 {
        // avcC: version, profile, compat, level, length size, numSPS, then (u16 len, NAL)*.
        let num = (ed[5] & 0x1F) as usize;
        if num == 0 {
            return None;
        }
        let len = u16::from_be_bytes([ed[6], ed[7]]) as usize;
        return ed.get(8..8 + len);
    }
    // Annex B: find a start code followed by NAL type 7.
    let mut i = 0;
    while i + 3 < ed.len() {
        if ed[i] == 0 && ed[i + 1] == 0 && ed[i + 2] == 1 {
            let start = i + 3;
            if ed[start] & 0x1F == 7 {
                let mut end = start;
                while end + 2 < ed.len() && !(ed[end] == 0 && ed[end + 1] == 0 && ed[end + 2] <= 1)
                {
                    end += 1;
                }
                let end = if end + 2 >= ed.len() { ed.len() } else { end };
                return ed.get(start..end);
            }
            i = start;
        } else {
            i += 1;
        }
    }
    None
}

/// Remove emulation-prevention bytes (00 00 03 → 00 00).
fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn u1(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(bit as u32)
    }

    fn u(&mut self, n: u32) -> Option<u32> {
        let mut v = 0;
        for _ in 0..n {
            v = (v << 1) | self.u1()?;
        }
        Some(v)
    }

    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.u1()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let rest = self.u(zeros)?;
        Some(((1u64 << zeros) - 1 + rest as u64).min(u32::MAX as u64) as u32)
    }

    fn se(&mut self) -> Option<i64> {
        let k = self.ue()? as i64;
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

fn skip_scaling_list(b: &mut Bits, size: usize) -> Option<()> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            let delta = b.se()?;
            next = (last + delta + 256).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

const SAR_TABLE: [(u32, u32); 17] = [
    (0, 1),
    (1, 1),
    (12, 11),
    (10, 11),
    (16, 11),
    (40, 33),
    (24, 11),
    (20, 11),
    (32, 11),
    (80, 33),
    (18, 11),
    (15, 11),
    (64, 33),
    (160, 99),
    (4, 3),
    (3, 2),
    (2, 1),
];

/// Parse an SPS RBSP (NAL header removed, emulation prevention removed).
fn parse_sps(rbsp: &[u8]) -> Option<Sps> {
    let mut b = Bits { data: rbsp, pos: 0 };
    let profile_idc = b.u(8)?;
    let constraints = b.u(8)?;
    let _level = b.u(8)?;
    let _id = b.ue()?;
    let (mut chroma_format_idc, mut bit_depth) = (1, 8);
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = b.ue()?;
        if chroma_format_idc > 3 {
            return None;
        }
        if chroma_format_idc == 3 {
            b.u1()?;
        }
        bit_depth = b.ue()? + 8;
        let _chroma_depth = b.ue()?;
        b.u1()?; // qpprime_y_zero_transform_bypass
        if b.u1()? == 1 {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if b.u1()? == 1 {
                    skip_scaling_list(&mut b, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    let mut profile = profile_idc as i32;
    let (set1, set3) = (constraints & 0x40 != 0, constraints & 0x10 != 0);
    match profile_idc {
        66 if set1 => profile |= FF_PROFILE_H264_CONSTRAINED,
        110 | 122 | 244 | 44 if set3 => profile |= FF_PROFILE_H264_INTRA,
        _ => {}
    }
    let mut sps = Sps {
        profile,
        chroma_format_idc,
        bit_depth,
        full_range: None,
        matrix: None,
        sar: None,
    };
    // The rest only matters for the VUI; a parse failure from here on keeps what we have.
    let _ = parse_to_vui(&mut b, &mut sps);
    Some(sps)
}

fn parse_to_vui(b: &mut Bits, sps: &mut Sps) -> Option<()> {
    b.ue()?; // log2_max_frame_num_minus4
    match b.ue()? {
        0 => {
            b.ue()?;
        }
        1 => {
            b.u1()?;
            b.se()?;
            b.se()?;
            let n = b.ue()?;
            if n > 255 {
                return None;
            }
            for _ in 0..n {
                b.se()?;
            }
        }
        _ => {}
    }
    b.ue()?; // max_num_ref_frames
    b.u1()?; // gaps_in_frame_num_value_allowed_flag
    b.ue()?; // pic_width_in_mbs_minus1
    b.ue()?; // pic_height_in_map_units_minus1
    if b.u1()? == 0 {
        b.u1()?; // mb_adaptive_frame_field_flag
    }
    b.u1()?; // direct_8x8_inference_flag
    if b.u1()? == 1 {
        for _ in 0..4 {
            b.ue()?;
        }
    }
    if b.u1()? == 0 {
        return Some(());
    }
    // VUI
    if b.u1()? == 1 {
        let idc = b.u(8)?;
        let sar = if idc == 255 {
            (b.u(16)?, b.u(16)?)
        } else {
            SAR_TABLE.get(idc as usize).copied().unwrap_or((0, 1))
        };
        if sar.0 > 0 && sar.1 > 0 {
            sps.sar = Some(sar);
        }
    }
    if b.u1()? == 1 {
        b.u1()?; // overscan_appropriate_flag
    }
    if b.u1()? == 1 {
        b.u(3)?; // video_format
        sps.full_range = Some(b.u1()? == 1);
        if b.u1()? == 1 {
            b.u(8)?;
            b.u(8)?;
            sps.matrix = Some(b.u(8)?);
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_removes_emulation_prevention() {
        assert_eq!(unescape(&[0, 0, 3, 1, 0, 0, 3]), vec![0, 0, 1, 0, 0]);
    }

    #[test]
    fn exp_golomb() {
        // 1 → 0, 010 → 1, 011 → 2, 00100 → 3
        let data = [0b1010_0110, 0b0100_0000];
        let mut b = Bits {
            data: &data,
            pos: 0,
        };
        assert_eq!(b.ue(), Some(0));
        assert_eq!(b.ue(), Some(1));
        assert_eq!(b.ue(), Some(2));
        assert_eq!(b.ue(), Some(3));
    }

    #[test]
    fn garbage_does_not_panic() {
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = parse_extradata(&junk);
            let mut avcc = vec![1, 100, 0, 30, 0xFF, 0xE1, 0, len as u8];
            avcc.extend(&junk);
            let _ = parse_extradata(&avcc);
        }
        assert_eq!(parse_extradata(&[]), None);
    }

    #[test]
    fn pixel_format_choice() {
        let mut s = Sps {
            profile: 100,
            chroma_format_idc: 1,
            bit_depth: 8,
            full_range: None,
            matrix: None,
            sar: None,
        };
        assert_eq!(pix_fmt_name(&s, false, false).as_deref(), Some("yuv420p"));
        assert_eq!(pix_fmt_name(&s, true, false).as_deref(), Some("yuvj420p"));
        s.full_range = Some(false);
        assert_eq!(pix_fmt_name(&s, true, false).as_deref(), Some("yuv420p"));
        s.chroma_format_idc = 3;
        assert_eq!(pix_fmt_name(&s, false, false).as_deref(), Some("yuv444p"));
        s.bit_depth = 10;
        s.chroma_format_idc = 2;
        assert_eq!(
            pix_fmt_name(&s, false, false).as_deref(),
            Some("yuv422p10le")
        );
        s.bit_depth = 11;
        assert_eq!(pix_fmt_name(&s, false, false), None);
    }
}
