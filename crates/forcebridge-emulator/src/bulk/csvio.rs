//! CSV as Bulk API 2.0 speaks it: the job's column delimiter and line ending, `#N/A` for null on
//! upload, every value quoted in results.
//!
//! Invariant: uploads are read record by record from the stored bytes (never all at once into
//! memory), so a job holds its CSV once plus one row at a time.

use super::Dialect;

/// A reader over uploaded CSV bytes, header row first.
pub fn reader(data: &[u8], dialect: Dialect) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(dialect.delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(data)
}

/// A writer producing result CSV: every field quoted, the job's delimiter and line ending.
pub fn writer(dialect: Dialect) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .delimiter(dialect.delimiter)
        .quote_style(csv::QuoteStyle::Always)
        .terminator(if dialect.crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::new())
}

/// Writes one row; writing into a `Vec` cannot fail, but a failure is reported rather than
/// panicking.
pub fn row<I, T>(w: &mut csv::Writer<Vec<u8>>, fields: I) -> Result<(), csv::Error>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    w.write_record(fields)
}

/// The bytes written so far.
pub fn finish(w: csv::Writer<Vec<u8>>) -> Vec<u8> {
    w.into_inner()
        .unwrap_or_else(|e| e.into_inner().get_ref().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_quote_everything_with_the_job_dialect() {
        let d = Dialect {
            delimiter: b'|',
            crlf: true,
        };
        let mut w = writer(d);
        row(&mut w, ["a", "b|c"]).unwrap();
        assert_eq!(finish(w), b"\"a\"|\"b|c\"\r\n");
    }

    #[test]
    fn reads_uploads_in_the_job_dialect() {
        let d = Dialect {
            delimiter: b'\t',
            crlf: false,
        };
        let data = b"Name\tCity\nAcme\t#N/A\n";
        let mut r = reader(data, d);
        assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), ["Name", "City"]);
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(rec.iter().collect::<Vec<_>>(), ["Acme", "#N/A"]);
    }
}
