//! The export: the whole log as JSON Lines, in the format `inkan_log::verify` defines and
//! verifies offline (`inkan log export`, `inkan log verify --export`).
//!
//! The caller gives the size of a stored checkpoint; entries `0..size` and the checkpoints of
//! sizes up to it are written, each checkpoint right after the last entry it covers (so the
//! export ends on the checkpoint of `size`), reading the store a page at a time
//! (entries and checkpoints never change once stored, so pages read at different moments
//! still form one log). Owns only the order of lines; the line format is
//! `inkan_log::verify::{entry_line, checkpoint_line}`.

use super::LogError;
use inkan_log::verify::{checkpoint_line, entry_line};
use inkan_store::Store;
use inkan_store::log::MAX_CHECKPOINTS_PAGE;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

/// Entries read per store call.
const ENTRY_PAGE: u32 = 1_000;

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    /// Entries written (`0..entries`).
    pub entries: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
}

/// Writes entries `0..size` and the checkpoints up to `size`, which must be the size of a
/// stored checkpoint: the export ends on it.
pub(super) async fn export<W>(
    store: &dyn Store,
    size: u64,
    mut out: W,
) -> Result<ExportSummary, LogError>
where
    W: AsyncWrite + Unpin,
{
    let mut next_entry = 0u64;
    let mut checkpoints = 0u64;
    let mut from_size = 0u64;
    'pages: loop {
        let page = store.checkpoints(from_size, MAX_CHECKPOINTS_PAGE).await?;
        let full = page.len() == MAX_CHECKPOINTS_PAGE as usize;
        for checkpoint in page {
            if checkpoint.size > size {
                break 'pages;
            }
            write_entries(store, &mut out, &mut next_entry, checkpoint.size).await?;
            let mut line = checkpoint_line(&checkpoint.note);
            line.push('\n');
            out.write_all(line.as_bytes()).await?;
            checkpoints += 1;
            from_size = checkpoint.size + 1;
        }
        if !full {
            break;
        }
    }
    if next_entry != size {
        return Err(LogError::Inconsistent(format!(
            "no stored checkpoint of size {size} to end the export on"
        )));
    }
    out.flush().await?;
    Ok(ExportSummary {
        entries: size,
        checkpoints,
    })
}

/// Writes entries `*next..end`, advancing `*next`.
async fn write_entries<W>(
    store: &dyn Store,
    out: &mut W,
    next: &mut u64,
    end: u64,
) -> Result<(), LogError>
where
    W: AsyncWrite + Unpin,
{
    while *next < end {
        let want = u32::try_from(end - *next)
            .unwrap_or(u32::MAX)
            .min(ENTRY_PAGE);
        let page = store.log_entries(*next, want).await?;
        if page.is_empty() {
            return Err(LogError::Inconsistent(format!(
                "entry {} is missing although the log holds {end}",
                *next
            )));
        }
        let mut text = String::with_capacity(page.len() * 256);
        for entry in page
            .iter()
            .take(usize::try_from(end - *next).unwrap_or(usize::MAX))
        {
            text.push_str(&entry_line(*next, entry));
            text.push('\n');
            *next += 1;
        }
        out.write_all(text.as_bytes()).await?;
    }
    Ok(())
}
