//! HEIC and AVIF (HEIF in ISO-BMFF boxes): walk the top-level boxes, then read the `meta` box.
//!
//! The primary item (`pitm`) and its associated properties (`ipma` → `ipco`) give the size (`ispe`),
//! bit depth (`pixi`), rotation (`irot`, mapped to the equivalent EXIF orientation) and ICC profile
//! (`colr`); an `auxC` alpha property marks transparency and an `Exif` item marks EXIF metadata (its
//! GPS content is not read). Every profile rejects these formats, but the edge rules need sizes.

use std::io::{Read, Seek};

use super::{MAX_METADATA_READ, Src, bad, be16_at, be32_at, blank, icc};
use crate::model::ImageFacts;
use crate::probe::ProbeError;

/// More top-level boxes than this is not an image file.
const MAX_TOP_BOXES: u32 = 10_000;

/// The children of a box body: (type, body) pairs, bounds-checked; stops at the first bad size.
fn children(mut b: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 8 && out.len() < 4096 {
        let size = be32_at(b, 0).unwrap_or(0) as u64;
        let mut t = [0u8; 4];
        t.copy_from_slice(&b[4..8]);
        let (hdr, size) = match size {
            0 => (8, b.len() as u64),
            1 => match (be32_at(b, 8), be32_at(b, 12)) {
                (Some(hi), Some(lo)) => (16, u64::from(hi) << 32 | u64::from(lo)),
                _ => break,
            },
            s => (8, s),
        };
        if size < hdr as u64 || size > b.len() as u64 {
            // A truncated last child (the meta box may have been capped): keep what is there.
            if size > b.len() as u64 && b.len() > hdr {
                out.push((t, &b[hdr..]));
            }
            break;
        }
        out.push((t, &b[hdr..size as usize]));
        b = &b[size as usize..];
    }
    out
}

fn find<'a>(kids: &[([u8; 4], &'a [u8])], t: &[u8; 4]) -> Option<&'a [u8]> {
    kids.iter().find(|k| &k.0 == t).map(|k| k.1)
}

pub(crate) fn probe<R: Read + Seek>(src: &mut Src<R>) -> Result<ImageFacts, ProbeError> {
    let len = src.len;
    let name = src.name();
    let mut f = blank(src.format, len);
    let mut pos = 0u64;
    let mut meta: Option<(u64, u64)> = None;
    let mut boxes = 0u32;
    while pos < len {
        boxes += 1;
        if boxes > MAX_TOP_BOXES {
            return Err(bad(format!(
                "corrupt {name}: more than {MAX_TOP_BOXES} top-level boxes"
            )));
        }
        if src.remaining(pos) < 8 {
            return Err(bad(format!(
                "truncated {name}: a box header at offset {pos} is cut off"
            )));
        }
        let h = src.get(pos, 8)?;
        let mut t = [0u8; 4];
        t.copy_from_slice(&h[4..8]);
        let (hdr, size) = match be32_at(h, 0).unwrap_or(0) {
            0 => (8, len - pos),
            1 => (16, {
                let b = src.get(pos + 8, 8)?;
                u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            }),
            s => (8, u64::from(s)),
        };
        let tname = String::from_utf8_lossy(&t).into_owned();
        if size < hdr {
            return Err(bad(format!(
                "corrupt {name}: box '{tname}' at offset {pos} has size {size}"
            )));
        }
        if size > src.remaining(pos) {
            return Err(bad(format!(
                "truncated {name}: box '{tname}' claims {size} bytes but only {} remain",
                src.remaining(pos)
            )));
        }
        if &t == b"meta" && meta.is_none() {
            meta = Some((pos + hdr, size - hdr));
        }
        pos += size;
    }
    let (mpos, mlen) = meta.ok_or_else(|| bad(format!("corrupt {name}: no 'meta' box")))?;
    let body = src.get(mpos, mlen.min(MAX_METADATA_READ as u64) as usize)?;
    // meta is a full box: 4 bytes of version and flags before its children.
    let kids = children(body.get(4..).unwrap_or(&[]));
    let primary = find(&kids, b"pitm").and_then(|p| match p.first()? {
        0 => be16_at(p, 4).map(u32::from),
        _ => be32_at(p, 4),
    });
    if let Some(iinf) = find(&kids, b"iinf") {
        let skip = if iinf.first() == Some(&0) { 6 } else { 8 };
        f.has_exif = children(iinf.get(skip..).unwrap_or(&[]))
            .iter()
            .filter(|(t, _)| t == b"infe")
            .any(|(_, e)| {
                let type_at = match e.first() {
                    Some(2) => 8,
                    Some(3) => 10,
                    _ => return false,
                };
                e.get(type_at..type_at + 4) == Some(b"Exif")
            });
    }
    let iprp = children(find(&kids, b"iprp").unwrap_or(&[]));
    let props = children(find(&iprp, b"ipco").unwrap_or(&[]));
    // Property indices (1-based) associated with the primary item.
    let mut assoc: Vec<usize> = Vec::new();
    if let (Some(ipma), Some(primary)) = (find(&iprp, b"ipma"), primary) {
        assoc = primary_properties(ipma, primary).unwrap_or_default();
    }
    let mine = |i: usize| assoc.is_empty() || assoc.contains(&(i + 1));
    let mut best_area = 0u64;
    for (i, (t, p)) in props.iter().enumerate() {
        match t {
            b"ispe" if mine(i) => {
                let (w, h) = (be32_at(p, 4).unwrap_or(0), be32_at(p, 8).unwrap_or(0));
                let area = u64::from(w) * u64::from(h);
                if area >= best_area {
                    best_area = area;
                    (f.width, f.height) = (w, h);
                }
            }
            b"pixi" if mine(i) => {
                if let Some(&bits) = p.get(5) {
                    f.bit_depth = bits;
                }
            }
            b"irot" if mine(i) => {
                f.exif_orientation = match p.first().map(|a| a & 3) {
                    Some(1) => Some(8),
                    Some(2) => Some(3),
                    Some(3) => Some(6),
                    _ => None,
                };
            }
            b"colr" if mine(i) => {
                if matches!(p.get(0..4), Some(b"prof" | b"rICC")) {
                    f.icc_profile = Some(icc::profile_name(&p[4..]));
                }
            }
            b"auxC" => {
                let urn = String::from_utf8_lossy(p.get(4..).unwrap_or(&[])).to_string();
                if urn.contains("alpha") || urn.contains("auxid:1") {
                    f.has_alpha = true;
                }
            }
            _ => {}
        }
    }
    if best_area == 0 {
        return Err(bad(format!(
            "corrupt {name}: no image size ('ispe') for the primary image"
        )));
    }
    f.color_model = if f.has_alpha { "rgba" } else { "rgb" }.into();
    Ok(f)
}

/// The 1-based `ipco` property indices that `ipma` associates with item `primary`.
fn primary_properties(ipma: &[u8], primary: u32) -> Option<Vec<usize>> {
    let version = *ipma.first()?;
    let flags = *ipma.get(3)?;
    let count = be32_at(ipma, 4)?;
    let mut i = 8usize;
    for _ in 0..count.min(1 << 16) {
        let id = if version < 1 {
            let v = u32::from(be16_at(ipma, i)?);
            i += 2;
            v
        } else {
            let v = be32_at(ipma, i)?;
            i += 4;
            v
        };
        let n = *ipma.get(i)? as usize;
        i += 1;
        let mut list = Vec::with_capacity(n);
        for _ in 0..n {
            let idx = if flags & 1 != 0 {
                let v = be16_at(ipma, i)? & 0x7FFF;
                i += 2;
                usize::from(v)
            } else {
                let v = ipma.get(i)? & 0x7F;
                i += 1;
                usize::from(v)
            };
            list.push(idx);
        }
        if id == primary {
            return Some(list);
        }
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::model::ImageFormat;
    use crate::probe::image::probe_image_bytes;

    fn bx(t: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(t);
        b.extend_from_slice(body);
        b
    }

    fn full(t: &[u8; 4], body: &[u8]) -> Vec<u8> {
        bx(t, &[&[0u8, 0, 0, 0][..], body].concat())
    }

    pub(crate) fn heif(brand: &[u8; 4], w: u32, h: u32, rot: Option<u8>, alpha: bool) -> Vec<u8> {
        let ispe = |w: u32, h: u32| full(b"ispe", &[w.to_be_bytes(), h.to_be_bytes()].concat());
        let mut ipco = ispe(160, 120); // a thumbnail's size, not the primary's
        ipco.extend(ispe(w, h));
        ipco.extend(full(b"pixi", &[3, 10, 10, 10]));
        ipco.extend(bx(b"irot", &[rot.unwrap_or(0)]));
        if alpha {
            ipco.extend(full(
                b"auxC",
                b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha\0",
            ));
        }
        // item 1 → properties 2, 3, 4 (+5 alpha, in reality on an auxiliary item); item 2 → 1.
        let mut ipma = 2u32.to_be_bytes().to_vec();
        ipma.extend_from_slice(&[0, 1, 3, 0x82, 3, 4]);
        ipma.extend_from_slice(&[0, 2, 1, 1]);
        let iprp = bx(
            b"iprp",
            &[bx(b"ipco", &ipco), full(b"ipma", &ipma)].concat(),
        );
        let mut iinf_body = 1u16.to_be_bytes().to_vec();
        iinf_body.extend(bx(b"infe", b"\x02\0\0\0\0\x01\0\0Exif\0"));
        let meta = full(
            b"meta",
            &[
                full(b"pitm", &1u16.to_be_bytes()),
                full(b"iinf", &iinf_body),
                iprp,
            ]
            .concat(),
        );
        let mut ftyp = brand.to_vec();
        ftyp.extend_from_slice(&[0, 0, 0, 0]);
        ftyp.extend_from_slice(b"mif1");
        [bx(b"ftyp", &ftyp), meta, bx(b"mdat", &[0u8; 16])].concat()
    }

    #[test]
    fn primary_item_properties() {
        let f = probe_image_bytes(
            &heif(b"heic", 4032, 3024, Some(3), false),
            ImageFormat::Heic,
        )
        .unwrap();
        assert_eq!((f.width, f.height, f.bit_depth), (4032, 3024, 10));
        assert_eq!(f.exif_orientation, Some(6));
        assert!(f.has_exif && !f.has_alpha);
        let f = probe_image_bytes(&heif(b"avif", 800, 600, None, true), ImageFormat::Avif).unwrap();
        assert_eq!(
            (f.width, f.height, f.exif_orientation, f.has_alpha),
            (800, 600, None, true)
        );
    }

    #[test]
    fn malformed() {
        let h = heif(b"heic", 10, 10, None, false);
        // Cut anywhere but exactly before the 24-byte mdat box: an error.
        for n in (0..h.len()).filter(|&n| n != h.len() - 24) {
            assert!(
                probe_image_bytes(&h[..n], ImageFormat::Heic).is_err(),
                "prefix {n}"
            );
        }
        let e = probe_image_bytes(&h[..h.len() - 3], ImageFormat::Heic)
            .unwrap_err()
            .to_string();
        assert!(e.contains("box 'mdat' claims 24 bytes"), "{e}");
    }
}
