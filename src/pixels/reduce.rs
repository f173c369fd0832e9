//! Reduced decodes that never hold the full picture: a PNG, a GIF's first frame or a TIFF stored in
//! strips or tiles is read a row (or a chunk) at a time into a box-filtered picture `k` times
//! smaller on each side. Their peak memory is the reduced picture plus one row or chunk, so a
//! 14000×14000 picture of a few hundred kilobytes costs megabytes, not gigabytes.

use std::io::BufReader;
use std::path::Path;

use image::DynamicImage;

use super::{Lease, PixelError};

/// Largest strip or tile read at once (bytes): a TIFF written as one strip (FFmpeg's and many
/// tools' deflate TIFFs) is read whole, which is still half of what any full decode takes.
pub const MAX_CHUNK_BYTES: u64 = super::MAX_FULL_DECODE_BYTES;

/// A picture `k` times smaller on each side, filled from rows of 8-bit samples (box filter).
///
/// Sums are held for a window of `win` reduced rows only: a source whose rows come in order (the
/// usual case) needs one, a tiled one a tile's height; an interlaced one needs them all. Rows that
/// leave the window are finished into the 8-bit picture.
pub struct BoxReducer {
    w: u32,
    h: u32,
    k: u32,
    ch: usize,
    ow: u32,
    oh: u32,
    win: u32,
    /// First reduced row still summed (rows above it are final in `out`).
    base: u32,
    sums: Vec<u32>,
    out: Vec<u8>,
    _lease: Lease,
}

impl BoxReducer {
    /// A reducer of a `w`×`h` picture with `ch` channels (1–4) whose rows arrive at most `rows`
    /// picture rows out of order (`None`: in any order).
    pub fn new(w: u32, h: u32, k: u32, ch: usize, rows: Option<u32>) -> BoxReducer {
        let k = k.max(1);
        let (ow, oh) = (w.div_ceil(k).max(1), h.div_ceil(k).max(1));
        let win = rows.map_or(oh, |r| (r.div_ceil(k) + 1).min(oh));
        let band = ow as usize * ch * win as usize;
        let out = ow as usize * oh as usize * ch;
        let lease = Lease::take(band as u64 * 4 + out as u64);
        BoxReducer {
            w,
            h,
            k,
            ch,
            ow,
            oh,
            win,
            base: 0,
            sums: vec![0; band],
            out: vec![0; out],
            _lease: lease,
        }
    }

    /// Add the pixels of picture row `y`: the first at column `x0`, the next `dx` further on. Pixels
    /// outside the picture are ignored; a row further out of order than promised is an error.
    pub fn add_row(&mut self, y: u32, x0: u32, dx: u32, data: &[u8]) -> Result<(), PixelError> {
        if y >= self.h {
            return Ok(());
        }
        let oy = y / self.k;
        if oy < self.base {
            return Err(PixelError(format!("row {y} comes after rows below it")));
        }
        while oy >= self.base + self.win {
            self.finish_row();
        }
        let (ch, row_len) = (self.ch, self.ow as usize * self.ch);
        let slot = (oy % self.win) as usize * row_len;
        for (i, px) in data.chunks_exact(ch).enumerate() {
            let x = x0 as u64 + i as u64 * dx as u64;
            if x >= self.w as u64 {
                break;
            }
            let o = slot + (x as u32 / self.k) as usize * ch;
            for (c, v) in px.iter().enumerate() {
                self.sums[o + c] += *v as u32;
            }
        }
        Ok(())
    }

    /// Turn the sums of reduced row `base` into final pixels: each the mean of its box of the
    /// picture, where pixels no row reached count as 0 (transparent black, as a GIF's canvas
    /// around its frame).
    fn finish_row(&mut self) {
        let (k, ch, oy) = (self.k, self.ch, self.base);
        let row_len = self.ow as usize * ch;
        let slot = (oy % self.win) as usize * row_len;
        let bh = k.min(self.h.saturating_sub(oy * k));
        for ox in 0..self.ow {
            let n = (k.min(self.w.saturating_sub(ox * k)) * bh).max(1);
            for c in 0..ch {
                let i = ox as usize * ch + c;
                let v = std::mem::take(&mut self.sums[slot + i]);
                self.out[oy as usize * row_len + i] = ((v + n / 2) / n) as u8;
            }
        }
        self.base += 1;
    }

    /// The reduced picture.
    pub fn finish(mut self) -> Result<DynamicImage, PixelError> {
        while self.base < self.oh {
            self.finish_row();
        }
        let (ow, oh) = (self.ow, self.oh);
        let buf = std::mem::take(&mut self.out);
        let img = match self.ch {
            1 => image::GrayImage::from_raw(ow, oh, buf).map(DynamicImage::ImageLuma8),
            2 => image::GrayAlphaImage::from_raw(ow, oh, buf).map(DynamicImage::ImageLumaA8),
            3 => image::RgbImage::from_raw(ow, oh, buf).map(DynamicImage::ImageRgb8),
            _ => image::RgbaImage::from_raw(ow, oh, buf).map(DynamicImage::ImageRgba8),
        };
        img.ok_or_else(|| PixelError("row reduction size mismatch".into()))
    }
}

fn open(path: &Path) -> Result<BufReader<std::fs::File>, PixelError> {
    std::fs::File::open(path)
        .map(BufReader::new)
        .map_err(|e| PixelError(e.to_string()))
}

/// Adam7 passes: (x0, dx, y0, dy).
pub const ADAM7: [(u32, u32, u32, u32); 7] = [
    (0, 8, 0, 8),
    (4, 8, 0, 8),
    (0, 4, 4, 8),
    (2, 4, 0, 4),
    (0, 2, 2, 4),
    (1, 2, 0, 2),
    (0, 1, 1, 2),
];

/// Read a PNG row by row into a picture `k` times smaller. Bad CRCs, zlib errors and truncation
/// are the `png` crate's errors.
pub fn png_reduced(path: &Path, k: u32) -> Result<DynamicImage, PixelError> {
    let err = |e: &dyn std::fmt::Display| PixelError(e.to_string());
    let mut dec = png::Decoder::new(open(path)?);
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec.read_info().map_err(|e| err(&e))?;
    let (w, h) = (reader.info().width, reader.info().height);
    let interlaced = reader.info().interlaced;
    let ch = reader.output_color_type().0.samples();
    let mut out = BoxReducer::new(w, h, k, ch, (!interlaced).then_some(1));
    // Each stored row: which picture row it is, and where its pixels start and step.
    let rows: Box<dyn Iterator<Item = (u32, u32, u32)>> = if interlaced {
        Box::new(ADAM7.iter().flat_map(move |&(x0, dx, y0, dy)| {
            let empty = w <= x0 || h <= y0;
            let n = if empty { 0 } else { (h - y0).div_ceil(dy) };
            (0..n).map(move |l| (y0 + l * dy, x0, dx))
        }))
    } else {
        Box::new((0..h).map(|y| (y, 0, 1)))
    };
    for (y, x0, dx) in rows {
        let row = match reader.next_row().map_err(|e| err(&e))? {
            Some(r) => r,
            None => return Err(PixelError(format!("PNG ends before row {y} of {h}"))),
        };
        out.add_row(y, x0, dx, row.data())?;
    }
    reader.finish().map_err(|e| err(&e))?;
    out.finish()
}

/// Which row of a `h`-row GIF frame the `i`th stored row is (interlaced: rows 0, 8, …; 4, 12, …;
/// 2, 6, …; 1, 3, …).
pub fn gif_row(i: u32, h: u32, interlaced: bool) -> u32 {
    if !interlaced {
        return i;
    }
    let mut i = i;
    for (y0, dy) in [(0, 8), (4, 8), (2, 4), (1, 2)] {
        let n = if h > y0 { (h - y0).div_ceil(dy) } else { 0 };
        if i < n {
            return y0 + i * dy;
        }
        i -= n;
    }
    h
}

/// Read a GIF's first frame row by row into a picture `k` times smaller (RGBA, the frame placed
/// on a transparent canvas of the logical screen's size, as the full decode does).
pub fn gif_reduced(path: &Path, k: u32) -> Result<DynamicImage, PixelError> {
    let err = |e: gif::DecodingError| PixelError(format!("GIF: {e}"));
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::RGBA);
    let mut dec = opts.read_info(open(path)?).map_err(err)?;
    let (w, h) = (dec.width() as u32, dec.height() as u32);
    let (left, top, fw, fh, interlaced) = match dec.next_frame_info().map_err(err)? {
        Some(f) => (
            f.left as u32,
            f.top as u32,
            f.width as u32,
            f.height as u32,
            f.interlaced,
        ),
        None => return Err(PixelError("GIF holds no picture".into())),
    };
    let mut out = BoxReducer::new(w, h, k, 4, (!interlaced).then_some(1));
    let mut line = vec![0u8; fw as usize * 4];
    for i in 0..fh {
        if !line.is_empty() && !dec.fill_buffer(&mut line).map_err(err)? {
            return Err(PixelError(format!("GIF ends before row {i} of {fh}")));
        }
        out.add_row(top + gif_row(i, fh, interlaced), left, 1, &line)?;
    }
    out.finish()
}

/// Read a TIFF strip by strip (or tile by tile) into a picture `k` times smaller. `Ok(None)` when
/// its layout is not one read here (planar, palette, CMYK, YCbCr, bit depths other than 8 and 16): the caller decodes it another way.
pub fn tiff_reduced(path: &Path, k: u32) -> Result<Option<DynamicImage>, PixelError> {
    use tiff::ColorType as C;
    use tiff::decoder::{ChunkType, Decoder, DecodingResult, Limits};
    let err = |e: tiff::TiffError| PixelError(format!("TIFF: {e}"));
    let mut dec = Decoder::new(open(path)?)
        .map_err(err)?
        .with_limits(Limits::unlimited());
    let (w, h) = dec.dimensions().map_err(err)?;
    let (ch, bits) = match dec.colortype().map_err(err)? {
        C::Gray(b) => (1, b),
        C::GrayA(b) => (2, b),
        C::RGB(b) => (3, b),
        C::RGBA(b) => (4, b),
        _ => return Ok(None),
    };
    let planar = dec
        .find_tag_unsigned::<u16>(tiff::tags::Tag::PlanarConfiguration)
        .map_err(err)?;
    if (bits != 8 && bits != 16) || planar.is_some_and(|p| p != 1) {
        return Ok(None);
    }
    let (cw, chh) = dec.chunk_dimensions();
    let chunk = cw as u64 * chh as u64 * ch as u64 * (bits as u64 / 8);
    if chunk > MAX_CHUNK_BYTES {
        return Err(PixelError(format!(
            "TIFF: one of its chunks holds {} MB of pixels, over the {} MB this tool decodes at once",
            chunk >> 20,
            MAX_CHUNK_BYTES >> 20
        )));
    }
    let (tiles, n) = match dec.get_chunk_type() {
        ChunkType::Strip => (false, dec.strip_count().map_err(err)?),
        ChunkType::Tile => (true, dec.tile_count().map_err(err)?),
    };
    let across = w.div_ceil(cw.max(1)).max(1);
    let mut out = BoxReducer::new(w, h, k, ch, Some(chh));
    let mut row8 = Vec::new();
    for i in 0..n {
        let (dw, dh) = dec.chunk_data_dimensions(i);
        let (x0, y0) = if tiles {
            ((i % across) * cw, (i / across) * chh)
        } else {
            (0, i * chh)
        };
        let samples = dw as usize * ch;
        let data = dec.read_chunk(i).map_err(err)?;
        let short = || PixelError(format!("TIFF: chunk {i} holds fewer samples than its size"));
        let rows = dh as usize;
        match &data {
            DecodingResult::U8(v) => {
                if v.len() < samples * rows {
                    return Err(short());
                }
                for (r, row) in v.chunks_exact(samples.max(1)).take(rows).enumerate() {
                    out.add_row(y0 + r as u32, x0, 1, row)?;
                }
            }
            DecodingResult::U16(v) => {
                if v.len() < samples * rows {
                    return Err(short());
                }
                for (r, row) in v.chunks_exact(samples.max(1)).take(rows).enumerate() {
                    row8.clear();
                    row8.extend(row.iter().map(|s| (s >> 8) as u8));
                    out.add_row(y0 + r as u32, x0, 1, &row8)?;
                }
            }
            _ => return Ok(None),
        }
    }
    out.finish().map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: a full picture box-reduced in memory.
    fn reduce_in_memory(img: &image::RgbaImage, k: u32) -> image::RgbaImage {
        let (w, h) = img.dimensions();
        image::RgbaImage::from_fn(w.div_ceil(k), h.div_ceil(k), |ox, oy| {
            let (mut s, mut n) = ([0u32; 4], 0u32);
            for y in oy * k..((oy + 1) * k).min(h) {
                for x in ox * k..((ox + 1) * k).min(w) {
                    for (c, v) in img.get_pixel(x, y).0.iter().enumerate() {
                        s[c] += *v as u32;
                    }
                    n += 1;
                }
            }
            image::Rgba(s.map(|v| ((v + n / 2) / n) as u8))
        })
    }

    fn test_picture(w: u32, h: u32) -> image::RgbaImage {
        image::RgbaImage::from_fn(w, h, |x, y| {
            image::Rgba([
                (x * 7 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x + y) % 3 * 90) as u8,
                255,
            ])
        })
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("kp-reduce-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn a_window_holds_only_the_rows_promised() {
        let mut r = BoxReducer::new(10, 10, 2, 1, Some(1));
        assert_eq!(r.win, 2);
        for y in [0, 1, 3, 2, 4] {
            r.add_row(y, 0, 1, &[200; 10]).unwrap();
        }
        // Row 0 was finished when row 4 arrived (reduced row 2): it cannot take more.
        assert!(r.add_row(0, 0, 1, &[0; 10]).is_err());
        let img = r.finish().unwrap().to_luma8();
        assert_eq!(img.get_pixel(0, 0).0, [200]);
        assert_eq!(
            img.get_pixel(0, 2).0,
            [100],
            "half of box row 2 was never given"
        );
    }

    #[test]
    fn gif_rows_follow_the_four_interlace_passes() {
        let order: Vec<u32> = (0..10).map(|i| gif_row(i, 10, true)).collect();
        assert_eq!(order, [0, 8, 4, 2, 6, 1, 3, 5, 7, 9]);
        let mut all: Vec<u32> = (0..37).map(|i| gif_row(i, 37, true)).collect();
        all.sort();
        assert_eq!(all, (0..37).collect::<Vec<_>>());
        assert_eq!(gif_row(3, 10, false), 3);
    }

    /// A GIF of `img` (few colours, so the palette is exact), its one frame placed at (`left`,
    /// `top`) on a larger screen, rows stored interlaced when asked.
    fn gif_bytes(
        img: &image::RgbaImage,
        screen: (u16, u16),
        at: (u16, u16),
        interlaced: bool,
    ) -> Vec<u8> {
        let (w, h) = img.dimensions();
        let mut palette: Vec<[u8; 3]> = Vec::new();
        let mut index = |p: &image::Rgba<u8>| {
            let c = [p[0], p[1], p[2]];
            match palette.iter().position(|q| *q == c) {
                Some(i) => i as u8,
                None => {
                    palette.push(c);
                    (palette.len() - 1) as u8
                }
            }
        };
        let rows: Vec<u32> = (0..h).map(|i| gif_row(i, h, interlaced)).collect();
        let mut buf = Vec::new();
        for &y in &rows {
            for x in 0..w {
                buf.push(index(img.get_pixel(x, y)));
            }
        }
        assert!(palette.len() <= 256);
        let flat: Vec<u8> = palette.iter().flatten().copied().collect();
        let mut out = Vec::new();
        {
            let mut enc = gif::Encoder::new(&mut out, screen.0, screen.1, &[]).unwrap();
            let mut f = gif::Frame::default();
            (f.left, f.top, f.width, f.height) = (at.0, at.1, w as u16, h as u16);
            f.interlaced = interlaced;
            f.palette = Some(flat);
            f.buffer = std::borrow::Cow::Owned(buf);
            enc.write_frame(&f).unwrap();
        }
        out
    }

    #[test]
    fn gif_row_reducer_matches_the_full_decode_box_filtered() {
        // 6 colours: x*7 and y*5 cycle through few values when x, y < 2.
        let img = image::RgbaImage::from_fn(23, 17, |x, y| {
            image::Rgba([(x % 3 * 100) as u8, (y % 2 * 200) as u8, 40, 255])
        });
        for interlaced in [false, true] {
            for (screen, at) in [((23, 17), (0, 0)), ((30, 25), (4, 5))] {
                let p = temp(&format!("g{interlaced}{}.gif", at.0));
                std::fs::write(&p, gif_bytes(&img, screen, at, interlaced)).unwrap();
                let full = image::open(&p).unwrap().to_rgba8();
                assert_eq!(full.dimensions(), (screen.0 as u32, screen.1 as u32));
                let got = gif_reduced(&p, 4).unwrap().to_rgba8();
                assert_eq!(
                    got,
                    reduce_in_memory(&full, 4),
                    "interlaced={interlaced} at={at:?}"
                );
            }
        }
    }

    #[test]
    fn a_gif_cut_short_is_an_error() {
        let img = test_picture(40, 40);
        let img = image::RgbaImage::from_fn(40, 40, |x, y| {
            let p = img.get_pixel(x, y);
            image::Rgba([p[0] & 0xC0, p[1] & 0xC0, 0, 255])
        });
        let bytes = gif_bytes(&img, (40, 40), (0, 0), false);
        let p = temp("short.gif");
        std::fs::write(&p, &bytes[..bytes.len() * 2 / 3]).unwrap();
        assert!(gif_reduced(&p, 4).is_err());
    }

    fn tiff_bytes(img: &image::RgbaImage, rows_per_strip: u32, sixteen: bool) -> Vec<u8> {
        use tiff::encoder::{TiffEncoder, colortype};
        let mut out = std::io::Cursor::new(Vec::new());
        let mut enc = TiffEncoder::new(&mut out)
            .unwrap()
            .with_compression(tiff::encoder::Compression::Deflate(Default::default()));
        let (w, h) = img.dimensions();
        let rgb: Vec<u8> = img.pixels().flat_map(|p| [p[0], p[1], p[2]]).collect();
        if sixteen {
            let data: Vec<u16> = rgb.iter().map(|&v| v as u16 * 257).collect();
            let mut im = enc.new_image::<colortype::RGB16>(w, h).unwrap();
            im.rows_per_strip(rows_per_strip).unwrap();
            im.write_data(&data).unwrap();
        } else {
            let mut im = enc.new_image::<colortype::RGB8>(w, h).unwrap();
            im.rows_per_strip(rows_per_strip).unwrap();
            im.write_data(&rgb).unwrap();
        }
        out.into_inner()
    }

    #[test]
    fn tiff_strip_reducer_matches_the_full_decode_box_filtered() {
        let img = test_picture(29, 31);
        for (rps, sixteen) in [(1, false), (4, false), (31, false), (5, true)] {
            let p = temp(&format!("t{rps}{sixteen}.tiff"));
            std::fs::write(&p, tiff_bytes(&img, rps, sixteen)).unwrap();
            let full = image::open(&p).unwrap().to_rgba8();
            let got = tiff_reduced(&p, 3)
                .unwrap()
                .expect("RGB strips are read here");
            assert_eq!(
                got.to_rgba8(),
                reduce_in_memory(&full, 3),
                "rps={rps} 16-bit={sixteen}"
            );
        }
    }

    #[test]
    fn a_tiff_whose_strip_is_damaged_is_an_error() {
        let img = test_picture(64, 64);
        let mut bytes = tiff_bytes(&img, 8, false);
        // Overwrite the middle of the compressed strips (the header and IFD are at the ends).
        let mid = bytes.len() / 2;
        for b in &mut bytes[mid - 40..mid + 40] {
            *b ^= 0x5A;
        }
        let p = temp("bad.tiff");
        std::fs::write(&p, &bytes).unwrap();
        assert!(tiff_reduced(&p, 4).is_err());
    }
}
