//! Keeping credentials out of everything a provider can make us print or store.
//!
//! A hostile or careless provider can echo the API key back in a reply, and not always verbatim: JSON
//! escapes (`\u0053\u0045…`), percent-encoding (`%53%45…`) or the key split over two fields all
//! decode to the key again once a message is built. So redaction works on the text as it will be
//! shown: every registered secret (and every long piece of one) is replaced in the text itself, and
//! when a decoded view of the text (JSON-unescaped, percent-decoded, separators removed) still holds
//! a secret or a piece of one, the whole text is withheld.

/// What a withheld text is replaced with.
pub const WITHHELD: &str = "[reply withheld: it echoed a credential]";
pub const REDACTED: &str = "[redacted]";

/// The length of a secret's pieces that count as an echo: long enough not to match ordinary words.
fn piece_len(secret: &str) -> usize {
    let n = secret.chars().count();
    if n >= 16 { 8 } else { (n / 2).max(4).min(n) }
}

/// Redact `text` against `secrets` (secrets shorter than 4 characters are ignored).
pub fn redact(text: &str, secrets: &[String]) -> String {
    let secrets: Vec<&String> = secrets.iter().filter(|s| s.chars().count() >= 4).collect();
    if secrets.is_empty() {
        return text.to_string();
    }
    let mut out = text.to_string();
    for s in &secrets {
        out = out.replace(s.as_str(), REDACTED);
        out = replace_pieces(&out, s);
    }
    for view in views(&out) {
        if secrets.iter().any(|s| has_piece(&view, s)) {
            return WITHHELD.to_string();
        }
    }
    out
}

/// Replace every run of `text` made of windows of `secret` at least `piece_len` long.
fn replace_pieces(text: &str, secret: &str) -> String {
    let k = piece_len(secret);
    let chars: Vec<char> = text.chars().collect();
    let sec: Vec<char> = secret.chars().collect();
    if chars.len() < k {
        return text.to_string();
    }
    let grams: std::collections::HashSet<&[char]> = sec.windows(k).collect();
    let mut hit = vec![false; chars.len()];
    for (i, w) in chars.windows(k).enumerate() {
        if grams.contains(w) {
            hit[i..i + k].iter_mut().for_each(|h| *h = true);
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if hit[i] {
            while i < chars.len() && hit[i] {
                i += 1;
            }
            out.push_str(REDACTED);
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn has_piece(text: &str, secret: &str) -> bool {
    let k = piece_len(secret);
    let sec: Vec<char> = secret.chars().collect();
    let chars: Vec<char> = text.chars().collect();
    let grams: std::collections::HashSet<&[char]> = sec.windows(k).collect();
    chars.windows(k).any(|w| grams.contains(w))
}

/// The ways a text can be read back: JSON-unescaped, percent-decoded, both, and with separators
/// (spaces, quotes, commas, plus signs) removed.
fn views(text: &str) -> Vec<String> {
    let j = json_unescape(text);
    let p = pct_decode(text);
    let jp = pct_decode(&j);
    let pj = json_unescape(&p);
    let strip = |s: &str| {
        s.chars()
            .filter(|c| !matches!(c, ' ' | '\t' | '\r' | '\n' | '"' | '\'' | ',' | '+' | '\\'))
            .collect::<String>()
    };
    let mut v = vec![strip(text), strip(&jp), strip(&pj)];
    v.extend([j, p, jp, pj]);
    v
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn json_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('u') => {
                let hex: String = it.clone().take(4).collect();
                match u32::from_str_radix(&hex, 16) {
                    Ok(v) if hex.len() == 4 => {
                        for _ in 0..4 {
                            it.next();
                        }
                        out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                    }
                    _ => out.push_str("\\u"),
                }
            }
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

/// Redact every string (keys included) inside a decoded JSON value.
pub fn redact_json(v: &mut serde_json::Value, secrets: &[String]) {
    use serde_json::Value;
    match v {
        Value::String(s) => *s = redact(s, secrets),
        Value::Array(a) => a.iter_mut().for_each(|x| redact_json(x, secrets)),
        Value::Object(m) => {
            let old = std::mem::take(m);
            for (k, mut x) in old {
                redact_json(&mut x, secrets);
                m.insert(redact(&k, secrets), x);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "fpk-SECRET-0123456789";

    fn keys() -> Vec<String> {
        vec![KEY.to_string()]
    }

    #[test]
    fn verbatim_pieces_escaped_and_encoded_echoes_never_survive() {
        assert_eq!(
            redact("bad key fpk-SECRET-0123456789!", &keys()),
            "bad key [redacted]!"
        );
        let split = redact("key fpk-SECRET- and 0123456789", &keys());
        assert!(
            !split.contains("SECRET-") && !split.contains("0123456789"),
            "{split}"
        );
        let escaped: String = KEY
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        assert_eq!(redact(&format!("key {escaped}"), &keys()), WITHHELD);
        let pct: String = KEY.bytes().map(|b| format!("%{b:02X}")).collect();
        assert_eq!(redact(&format!("k={pct}"), &keys()), WITHHELD);
        assert_eq!(redact("nothing to see", &keys()), "nothing to see");
        assert_eq!(redact("https://cdn/x.mp4", &keys()), "https://cdn/x.mp4");
    }

    #[test]
    fn decoded_json_strings_are_redacted() {
        let body = format!(
            "{{\"message\":\"invalid key {}\"}}",
            KEY.chars()
                .map(|c| format!("\\u{:04X}", c as u32))
                .collect::<String>()
        );
        let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(v.to_string().contains(KEY), "serde decodes the escapes");
        redact_json(&mut v, &keys());
        assert!(!v.to_string().contains("SECRET"), "{v}");
    }
}
