//! The issue's must-show hostile cases, against the offline export verifier and receipts:
//! a modified entry, a deleted entry, swapped entries, a truncated log, a forged checkpoint,
//! a checkpoint from another environment, a proof with a flipped bit, trailing garbage.
//! Each is detected and the error names the problem.
#![allow(clippy::unwrap_used)]

mod common;

use common::{PROD_ORIGIN, SoftSigner, TEST_ORIGIN, sample_entry};
use inkan_log::LogError;
use inkan_log::checkpoint::Checkpoint;
use inkan_log::entry::{EntryKind, Outcome};
use inkan_log::hash::leaf_hash;
use inkan_log::receipt::Receipt;
use inkan_log::tree::MemoryTree;
use inkan_log::verify::{ExportLine, checkpoint_line, entry_line, verify_export};

/// A production log of `n` entries with a checkpoint after every `every` entries and one at
/// the end: its entries, its tree and its export lines.
struct Log {
    entries: Vec<Vec<u8>>,
    tree: MemoryTree,
    lines: Vec<String>,
    key: SoftSigner,
}

fn log(n: u64, every: u64) -> Log {
    let key = SoftSigner::new(PROD_ORIGIN, 1);
    let mut tree = MemoryTree::new();
    let mut entries = Vec::new();
    let mut lines = Vec::new();
    for i in 0..n {
        let bytes = sample_entry(EntryKind::ALL[(i % 11) as usize], i).encode();
        tree.append(leaf_hash(&bytes)).unwrap();
        lines.push(entry_line(i, &bytes));
        entries.push(bytes);
        if (i + 1) % every == 0 || i + 1 == n {
            lines.push(checkpoint_line(&checkpoint(&tree, &key, PROD_ORIGIN)));
        }
    }
    Log {
        entries,
        tree,
        lines,
        key,
    }
}

fn checkpoint(tree: &MemoryTree, key: &SoftSigner, origin: &str) -> String {
    Checkpoint {
        origin: origin.into(),
        size: tree.size(),
        root: tree.root().unwrap(),
    }
    .sign(key)
    .unwrap()
}

fn text(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn verify(log: &Log, lines: &[String]) -> Result<inkan_log::verify::VerifyReport, LogError> {
    verify_export(text(lines).as_bytes(), &log.key.verifier(), PROD_ORIGIN)
}

fn err(log: &Log, lines: &[String]) -> String {
    verify(log, lines).unwrap_err().to_string()
}

/// The 1-based line number of the checkpoint covering `size`.
fn checkpoint_line_no(lines: &[String], size: u64) -> usize {
    lines
        .iter()
        .position(|l| match ExportLine::parse(l).unwrap() {
            ExportLine::Checkpoint { note } => note.split('\n').nth(1) == Some(&size.to_string()),
            ExportLine::Entry { .. } => false,
        })
        .unwrap()
        + 1
}

#[test]
fn an_honest_export_verifies() {
    let l = log(50, 10);
    let report = verify(&l, &l.lines).unwrap();
    assert_eq!((report.entries, report.checkpoints), (50, 5));
    let last = report.last_checkpoint;
    assert_eq!((last.size, last.root), (50, l.tree.root().unwrap()));
    assert_eq!(report.root, l.tree.root().unwrap());
    // Every entry line is exactly as the exporter prints it.
    for (i, e) in l.entries.iter().enumerate() {
        assert_eq!(
            ExportLine::parse(&entry_line(i as u64, e))
                .unwrap()
                .to_line(),
            entry_line(i as u64, e)
        );
    }
    // Checkpoints of size 0: an empty log signed as empty verifies.
    let empty = checkpoint_line(&checkpoint(&MemoryTree::new(), &l.key, PROD_ORIGIN));
    assert_eq!(verify(&l, std::slice::from_ref(&empty)).unwrap().entries, 0);
    let mut lines = vec![empty];
    lines.extend_from_slice(&l.lines);
    let report = verify(&l, &lines).unwrap();
    assert_eq!(
        (
            report.entries,
            report.checkpoints,
            report.last_checkpoint.size
        ),
        (50, 6, 50)
    );
}

/// Entries no signed checkpoint covers prove nothing (criteria 2.1.3(12), 2.3.3(5)): an
/// export that ends on them, or holds no checkpoint at all, is refused, and a modified entry
/// there cannot pass as verified.
#[test]
fn entries_no_checkpoint_covers_are_refused() {
    let l = log(30, 10);
    // Entries after the last checkpoint: honest or modified, they are refused alike.
    for note in ["honest", "modified"] {
        let mut lines = l.lines.clone();
        let mut extra = sample_entry(EntryKind::KeyDestroyed, 30);
        if note == "modified" {
            extra.outcome = Outcome::Succeeded;
        }
        lines.push(entry_line(30, &extra.encode()));
        lines.push(entry_line(31, &sample_entry(EntryKind::Login, 31).encode()));
        assert_eq!(
            err(&l, &lines),
            "log inconsistent: entries 30..31 are covered by no signed checkpoint (the last, at \
             line 33, has size 30): they prove nothing (an export ends on a checkpoint that \
             covers every entry: export it again)",
            "{note}"
        );
    }
    // The final checkpoint dropped: the entries it covered are uncovered now.
    let mut lines = l.lines.clone();
    lines.pop();
    assert!(
        err(&l, &lines)
            .starts_with("log inconsistent: entries 20..29 are covered by no signed checkpoint"),
        "{}",
        err(&l, &lines)
    );
    // No checkpoint at all, with entries or empty.
    let entries: Vec<String> = l
        .lines
        .iter()
        .filter(|line| matches!(ExportLine::parse(line).unwrap(), ExportLine::Entry { .. }))
        .cloned()
        .collect();
    assert_eq!(
        err(&l, &entries),
        "log inconsistent: the export holds no signed checkpoint, so none of its 30 entries is \
         covered by a signature (an export ends on a checkpoint: export it again)"
    );
    assert!(err(&l, &[]).contains("the export holds no signed checkpoint"));
}

#[test]
fn modified_entry() {
    let l = log(30, 10);
    // Re-encoded canonically with one digest changed: only the tree notices.
    let mut e = sample_entry(EntryKind::ALL[(14 % 11) as usize], 14);
    e.outcome = Outcome::Succeeded;
    let mut lines = l.lines.clone();
    let at = lines
        .iter()
        .position(|x| *x == entry_line(14, &l.entries[14]))
        .unwrap();
    lines[at] = entry_line(14, &e.encode());
    let line = checkpoint_line_no(&lines, 20);
    assert_eq!(
        err(&l, &lines),
        format!(
            "log inconsistent: checkpoint at line {line} (size 20): root does not match the entries; \
             the checkpoint at line 11 (size 10) matched, so the difference lies in entries 10..19"
        )
    );
    // Edited by hand (not canonical any more): named directly.
    let mut lines = l.lines.clone();
    let bytes = String::from_utf8(l.entries[14].clone())
        .unwrap()
        .replace(",\"v\":1", ", \"v\":1");
    lines[at] = entry_line(14, bytes.as_bytes());
    assert!(err(&l, &lines).starts_with(&format!(
        "log inconsistent: entry 14 (line {}) is not canonical: ",
        at + 1
    )));
    // A modification before the first checkpoint.
    let mut lines = l.lines.clone();
    lines[3] = entry_line(3, &sample_entry(EntryKind::KeyImported, 99).encode());
    assert!(
        err(&l, &lines)
            .contains("checkpoint at line 11 (size 10): root does not match the entries")
    );
}

#[test]
fn deleted_entry() {
    let l = log(30, 10);
    let mut lines = l.lines.clone();
    lines.remove(5); // entry 5
    assert_eq!(
        err(&l, &lines),
        "log inconsistent: entry 5 missing (found 6 at line 6)"
    );
    // Deleted and the rest renumbered: the checkpoint notices.
    let mut lines: Vec<String> = Vec::new();
    let mut n = 0;
    for line in &l.lines {
        match ExportLine::parse(line).unwrap() {
            ExportLine::Entry { index: 5, .. } => {}
            ExportLine::Entry { entry, .. } => {
                lines.push(entry_line(n, &entry));
                n += 1;
            }
            ExportLine::Checkpoint { .. } => lines.push(line.clone()),
        }
    }
    assert!(err(&l, &lines).contains("covers entries 9..9 that are not in the export before it"));
}

#[test]
fn swapped_entries() {
    let l = log(30, 10);
    let mut lines = l.lines.clone();
    lines.swap(3, 4);
    assert_eq!(
        err(&l, &lines),
        "log inconsistent: entry 3 missing (found 4 at line 4)"
    );
    // Swapped and renumbered.
    let mut lines = l.lines.clone();
    lines[3] = entry_line(3, &l.entries[4]);
    lines[4] = entry_line(4, &l.entries[3]);
    assert_eq!(
        err(&l, &lines),
        "log inconsistent: checkpoint at line 11 (size 10): root does not match the entries"
    );
    // A repeated entry.
    let mut lines = l.lines.clone();
    lines.insert(4, lines[3].clone());
    assert_eq!(
        err(&l, &lines),
        "log inconsistent: entry 3 at line 5 is out of order or repeated (expected entry 4)"
    );
}

#[test]
fn truncated_log() {
    let l = log(30, 10);
    // Entries 25..29 cut away, the checkpoint covering them kept.
    let mut lines = l.lines.clone();
    let cp = lines.pop().unwrap();
    lines.truncate(lines.len() - 5);
    lines.push(cp);
    assert_eq!(
        err(&l, &lines),
        format!(
            "log inconsistent: checkpoint at line {} (size 30) covers entries 25..29 that are not in the export before it (truncated log?)",
            lines.len()
        )
    );
    // Cut in the middle of a line.
    let full = text(&l.lines);
    let cut = &full[..full.len() - 20];
    let e = verify_export(cut.as_bytes(), &l.key.verifier(), PROD_ORIGIN)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "malformed export: trailing garbage at line {}: no newline at the end (incomplete line)",
            l.lines.len()
        )
    );
}

#[test]
fn forged_checkpoint() {
    let l = log(20, 10);
    // Signed by another key, with the right origin and the right root.
    let mallory = SoftSigner::new(PROD_ORIGIN, 66);
    let mut tree = MemoryTree::new();
    for e in &l.entries[..10] {
        tree.append(leaf_hash(e)).unwrap();
    }
    let mut lines = l.lines.clone();
    lines[10] = checkpoint_line(&checkpoint(&tree, &mallory, PROD_ORIGIN));
    let e = err(&l, &lines);
    assert!(
        e.starts_with("signature: checkpoint at line 11: no signature by the expected key inkan.example/log/production+"),
        "{e}"
    );
    assert!(e.contains("signed by an unknown key"), "{e}");

    // The root altered in a genuine note.
    let ExportLine::Checkpoint { note } = ExportLine::parse(&l.lines[10]).unwrap() else {
        panic!()
    };
    let body_root = note.split('\n').nth(2).unwrap().to_owned();
    let forged_root = Checkpoint {
        origin: PROD_ORIGIN.into(),
        size: 10,
        root: leaf_hash(b"forged"),
    }
    .to_body();
    let forged = note.replace(&body_root, forged_root.split('\n').nth(2).unwrap());
    lines[10] = checkpoint_line(&forged);
    assert_eq!(
        err(&l, &lines),
        "signature: checkpoint at line 11: signature by inkan.example/log/production does not verify"
    );

    // A validly signed checkpoint over other entries (the log key misused): the root differs.
    let mut other = MemoryTree::new();
    for i in 0..10 {
        other
            .append(leaf_hash(format!("other {i}").as_bytes()))
            .unwrap();
    }
    lines[10] = checkpoint_line(&checkpoint(&other, &l.key, PROD_ORIGIN));
    assert_eq!(
        err(&l, &lines),
        "log inconsistent: checkpoint at line 11 (size 10): root does not match the entries"
    );

    // Checkpoints going backwards.
    let mut lines = l.lines.clone();
    let first = lines[10].clone();
    lines.push(first);
    assert_eq!(
        err(&l, &lines),
        "log inconsistent: checkpoint at line 23 (size 10) is smaller than the checkpoint at line 22 (size 20)"
    );
}

#[test]
fn checkpoint_from_another_environment() {
    let l = log(20, 10);
    // The same entries, signed as the test log (even with the production key itself).
    let mut tree = MemoryTree::new();
    for e in &l.entries[..10] {
        tree.append(leaf_hash(e)).unwrap();
    }
    let mut lines = l.lines.clone();
    lines[10] = checkpoint_line(&checkpoint(&tree, &l.key, TEST_ORIGIN));
    assert_eq!(
        err(&l, &lines),
        format!(
            "signature: checkpoint at line 11: checkpoint origin {TEST_ORIGIN:?}, expected {PROD_ORIGIN:?}"
        )
    );
    // A whole test-environment export handed to a production verifier.
    let test_key = SoftSigner::new(TEST_ORIGIN, 5);
    lines[10] = checkpoint_line(&checkpoint(&tree, &test_key, TEST_ORIGIN));
    assert!(err(&l, &lines).contains("no signature by the expected key"));
}

#[test]
fn trailing_garbage() {
    let l = log(12, 10);
    for garbage in [
        "x",
        "",
        "{\"type\":\"entry\"}",
        " ",
        "{\"type\":\"checkpoint\",\"note\":\"\"}\u{0}",
    ] {
        let mut lines = l.lines.clone();
        lines.push(garbage.to_owned());
        let e = err(&l, &lines);
        assert!(
            e.starts_with(&format!(
                "malformed export: trailing garbage at line {}",
                l.lines.len() + 1
            )),
            "{garbage:?}: {e}"
        );
    }
    let with_bytes = format!("{}\u{ff}garbage", text(&l.lines));
    let e = verify_export(with_bytes.as_bytes(), &l.key.verifier(), PROD_ORIGIN)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(&format!(
        "malformed export: trailing garbage at line {}",
        l.lines.len() + 1
    )));
    let mut bytes = text(&l.lines).into_bytes();
    bytes.extend_from_slice(b"\xff\xfe\n");
    let e = verify_export(&bytes[..], &l.key.verifier(), PROD_ORIGIN)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "malformed export: trailing garbage at line {}: not UTF-8",
            l.lines.len() + 1
        )
    );
    // Garbage in the middle is named as such.
    let mut lines = l.lines.clone();
    lines.insert(2, "garbage".into());
    assert!(err(&l, &lines).starts_with("malformed export: line 3 is not a log record: not JSON"));
    // Lines not in the exact export form.
    let mut lines = l.lines.clone();
    lines[0] = lines[0].replace(",\"index\"", ", \"index\"");
    assert!(err(&l, &lines).contains("line 1 is not a log record: not in the exact export form"));
    let mut lines = l.lines.clone();
    lines[0] = format!("{}\r", lines[0]);
    assert!(err(&l, &lines).contains("line 1 is not a log record"));
    // An overlong line.
    let mut lines = l.lines.clone();
    lines.insert(1, "x".repeat(inkan_log::verify::MAX_LINE_BYTES + 5));
    assert!(
        err(&l, &lines).starts_with("malformed export: line 2 is not a log record: longer than")
    );
}

#[test]
fn receipts() {
    let l = log(21, 7);
    let verifier = l.key.verifier();
    let note = checkpoint(&l.tree, &l.key, PROD_ORIGIN);
    for index in [0u64, 6, 13, 20] {
        let receipt = Receipt::new(
            index,
            l.tree.inclusion_proof(21, index).unwrap(),
            note.clone(),
        );
        let text = receipt.encode();
        assert!(text.starts_with(&format!("c2sp.org/tlog-proof@v1\nindex {index}\n")));
        let parsed = Receipt::parse(&text).unwrap();
        assert_eq!(parsed, receipt);
        let cp = parsed
            .verify(&l.entries[index as usize], &verifier, PROD_ORIGIN)
            .unwrap();
        assert_eq!((cp.size, cp.root), (21, l.tree.root().unwrap()));

        // A proof with a flipped bit.
        for i in 0..receipt.proof.len() {
            let mut bad = receipt.clone();
            bad.proof[i][7] ^= 0x10;
            let e = Receipt::parse(&bad.encode()).unwrap().verify(
                &l.entries[index as usize],
                &verifier,
                PROD_ORIGIN,
            );
            assert!(
                matches!(&e, Err(LogError::BadProof(m)) if m.starts_with(&format!("entry {index} is not proven in the checkpoint of size 21"))),
                "{e:?}"
            );
        }
        // Another entry, another index, another environment, another key.
        let other = (index + 1) % 21;
        assert!(matches!(
            receipt.verify(&l.entries[other as usize], &verifier, PROD_ORIGIN),
            Err(LogError::BadProof(_))
        ));
        let mut moved = receipt.clone();
        moved.index = other;
        assert!(matches!(
            moved.verify(&l.entries[index as usize], &verifier, PROD_ORIGIN),
            Err(LogError::BadProof(_))
        ));
        assert!(
            receipt
                .verify(&l.entries[index as usize], &verifier, TEST_ORIGIN)
                .is_err()
        );
        assert!(
            receipt
                .verify(
                    &l.entries[index as usize],
                    &SoftSigner::new(PROD_ORIGIN, 3).verifier(),
                    PROD_ORIGIN
                )
                .is_err()
        );
    }
    // A bit flipped in the text of the receipt (base64 of a hash).
    let receipt = Receipt::new(6, l.tree.inclusion_proof(21, 6).unwrap(), note.clone());
    let text = receipt.encode();
    let line = text.lines().nth(2).unwrap();
    let mut flipped = line.as_bytes().to_vec();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    let text2 = text.replacen(line, std::str::from_utf8(&flipped).unwrap(), 1);
    assert!(
        Receipt::parse(&text2)
            .unwrap()
            .verify(&l.entries[6], &verifier, PROD_ORIGIN)
            .is_err()
    );
    // Index beyond the checkpoint.
    let beyond = Receipt::new(21, vec![], note.clone());
    assert!(matches!(
        beyond.verify(&l.entries[0], &verifier, PROD_ORIGIN),
        Err(LogError::BadProof(_))
    ));
}

#[test]
fn receipt_format() {
    let l = log(5, 5);
    let note = checkpoint(&l.tree, &l.key, PROD_ORIGIN);
    let mut r = Receipt::new(3, l.tree.inclusion_proof(5, 3).unwrap(), note.clone());
    r.extra = Some(b"opaque".to_vec());
    let text = r.encode();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra b3BhcXVl\nindex 3\n"));
    assert_eq!(Receipt::parse(&text).unwrap(), r);
    r.verify(&l.entries[3], &l.key.verifier(), PROD_ORIGIN)
        .unwrap();

    let good = Receipt::new(3, l.tree.inclusion_proof(5, 3).unwrap(), note.clone()).encode();
    let h0 = good.lines().nth(2).unwrap();
    let bad = [
        good.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"),
        good.replace("index 3", "index 03"),
        good.replace("index 3", "index +3"),
        good.replace("index 3", "index  3"),
        good.replace("index 3", "idx 3"),
        good.replace(h0, &h0[4..]),
        good.replace(h0, &format!("{h0}x")),
        good.replacen("\n\n", "\n", 1),
        good.trim_end_matches('\n').to_owned(),
        good.split("\n\n").next().unwrap().to_owned(),
        format!(
            "c2sp.org/tlog-proof@v1\nindex 3\n{}\n{note}",
            format!("{h0}\n").repeat(64)
        ),
        good.replace(
            "c2sp.org/tlog-proof@v1\n",
            "c2sp.org/tlog-proof@v1\nextra !!\n",
        ),
    ];
    for b in &bad {
        assert!(
            matches!(
                Receipt::parse(b),
                Err(LogError::Malformed {
                    what: "receipt",
                    ..
                })
            ),
            "{b:?}"
        );
    }
}
