//! A minimal XML reader for OpenCV's `FileStorage` cascade files: elements, text and comments, no
//! namespaces, entities or DTDs (the cascades use none). It builds a small tree the cascade loader
//! walks; every malformed input ends in an `Err` with the byte offset, never a panic.
//!
//! Hand-written rather than a crate because the format needs ~100 lines and the loader must run in the
//! binary (quick-xml is only a dev-dependency).

/// One element: its name, child elements and the text directly inside it.
#[derive(Debug, Default)]
pub(crate) struct Node {
    pub name: String,
    pub children: Vec<Node>,
    pub text: String,
}

impl Node {
    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The trimmed text of child `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
}

/// Deepest nesting accepted (cascades use about 8 levels).
const MAX_DEPTH: usize = 64;

/// Parse a document into its root element.
pub(crate) fn parse(text: &str) -> Result<Node, String> {
    let b = text.as_bytes();
    let mut i = 0;
    // Stack of open elements; the bottom one is a synthetic document node.
    let mut stack: Vec<Node> = vec![Node::default()];
    while i < b.len() {
        if b[i] != b'<' {
            let end = memchr(b'<', &b[i..]).map_or(b.len(), |k| i + k);
            let top = stack.last_mut().expect("stack never empty");
            top.text.push_str(&text[i..end]);
            i = end;
            continue;
        }
        let rest = &text[i..];
        if rest.starts_with("<!--") {
            let end = rest
                .find("-->")
                .ok_or_else(|| format!("unclosed comment at byte {i}"))?;
            i += end + 3;
        } else if rest.starts_with("<?") || rest.starts_with("<!") {
            let end = rest
                .find('>')
                .ok_or_else(|| format!("unclosed declaration at byte {i}"))?;
            i += end + 1;
        } else if let Some(close) = rest.strip_prefix("</") {
            let end = close
                .find('>')
                .ok_or_else(|| format!("unclosed end tag at byte {i}"))?;
            let name = close[..end].trim();
            if stack.len() < 2 {
                return Err(format!("end tag </{name}> without a start tag at byte {i}"));
            }
            let node = stack.pop().expect("checked length");
            if node.name != name {
                return Err(format!(
                    "end tag </{name}> does not close <{}> at byte {i}",
                    node.name
                ));
            }
            stack.last_mut().expect("document node").children.push(node);
            i += 2 + end + 1;
        } else {
            let end = rest[1..]
                .find('>')
                .ok_or_else(|| format!("unclosed start tag at byte {i}"))?
                + 1;
            let inner = &rest[1..end];
            let self_closing = inner.ends_with('/');
            let inner = inner.trim_end_matches('/');
            let name = inner.split_whitespace().next().unwrap_or("");
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
            {
                return Err(format!("bad element name {name:?} at byte {i}"));
            }
            let node = Node {
                name: name.to_string(),
                ..Node::default()
            };
            if self_closing {
                stack.last_mut().expect("document node").children.push(node);
            } else {
                if stack.len() > MAX_DEPTH {
                    return Err(format!(
                        "elements nested deeper than {MAX_DEPTH} at byte {i}"
                    ));
                }
                stack.push(node);
            }
            i += end + 1;
        }
    }
    if stack.len() != 1 {
        let open = stack.last().map(|n| n.name.clone()).unwrap_or_default();
        return Err(format!("the document ends inside <{open}>"));
    }
    let mut doc = stack.pop().expect("document node");
    match doc.children.len() {
        1 => Ok(doc.children.pop().expect("one child")),
        0 => Err("no root element".into()),
        n => Err(format!("{n} root elements")),
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&c| c == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_text_and_comments() {
        let doc = parse(
            "<?xml version=\"1.0\"?>\n<!-- c <a> -->\n<r a=\"1\"><x>1 2</x><_><y/></_>tail</r>",
        )
        .unwrap();
        assert_eq!(doc.name, "r");
        assert_eq!(doc.child_text("x"), Some("1 2"));
        assert_eq!(doc.children[1].children[0].name, "y");
        assert_eq!(doc.text, "tail");
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "</a>",
            "<a><!-- x</a>",
            "<a",
            "<a></a><b></b>",
            "<>",
            "<a><é></é></a>",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(&deep).is_err());
    }
}
