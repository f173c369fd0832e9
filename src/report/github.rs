//! GitHub Actions workflow commands: `::error file=...,title=...::message` lines that the Actions
//! runner turns into annotations on the pull request's files and in the job summary.
//!
//! Escaping follows the runner's rules (actions/toolkit `command.ts`): in the message `%`, `\r` and
//! `\n` are percent-encoded; in properties (`file`, `title`) also `:` and `,`.

use std::io::{self, Write};

use crate::model::{Report, Severity};

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn write(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    for f in &report.files {
        let file = escape_property(&super::artifact_path(&f.path));
        for d in &f.diagnostics {
            let command = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "notice",
            };
            let fix = d
                .fix
                .as_ref()
                .map(|x| format!(" [fixable: {x}]"))
                .unwrap_or_default();
            writeln!(
                out,
                "::{command} file={file},title={}::{}",
                escape_property(&format!("{} {}", d.code, d.name)),
                escape_data(&format!("{}{fix}", d.message)),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_the_actions_toolkit() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}
