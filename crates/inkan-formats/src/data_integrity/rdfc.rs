//! RDF Dataset Canonicalization (RDFC-1.0, W3C Recommendation 2024), parameterised by its hash
//! function: SHA-256 (the default, used by `eddsa-rdfc-2022` and `ecdsa-rdfc-2019` with P-256)
//! or SHA-384 (`ecdsa-rdfc-2019` with P-384).
//!
//! The algorithm gives every blank node a hash of the quads it appears in (first degree); nodes
//! whose hash is unique get canonical labels `c14n0`, `c14n1`, … in hash order. Nodes that share
//! a hash are told apart by the N-degree hash, which explores the blank nodes related to them,
//! trying every order of related nodes that share a hash and keeping the smallest path. That
//! exploration is exponential on crafted "poison" graphs, so the work done (N-degree hash calls
//! plus permutations tried) is capped at [`MAX_WORK`] and a dataset that needs more is refused.
//!
//! The output is the canonical N-Quads document: every quad serialised in canonical N-Quads
//! form, with canonical blank node labels, sorted in code point order, each ending with a
//! newline. A small strict N-Quads parser ([`parse_nquads`]) reads test inputs.

use crate::FormatError;
use sha2::Digest as _;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

const WHAT: &str = "RDF dataset";

/// The IRI of plain string literals, written without a datatype.
const XSD_STRING: &str = "http://www.w3.org/2001/XMLSchema#string";
/// The IRI of language-tagged literals, written as `"…"@tag`.
const RDF_LANG_STRING: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString";

/// The most work (N-degree hash calls plus permutations tried) spent on one dataset.
pub const MAX_WORK: u64 = 100_000;

/// The hash function RDFC-1.0 runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// SHA-256, the RDFC-1.0 default.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl HashAlgorithm {
    /// The lowercase hexadecimal hash of `data`.
    fn hex(self, data: &[u8]) -> String {
        match self {
            HashAlgorithm::Sha256 => hex::encode(sha2::Sha256::digest(data)),
            HashAlgorithm::Sha384 => hex::encode(sha2::Sha384::digest(data)),
        }
    }
}

/// An RDF term in a quad.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Term {
    /// An IRI.
    Iri(String),
    /// A blank node, by its label (without `_:`).
    Blank(String),
    /// A literal: lexical value, datatype IRI, and language tag for `rdf:langString`.
    Literal {
        /// The lexical value.
        value: String,
        /// The datatype IRI (`rdf:langString` when `language` is set).
        datatype: String,
        /// The language tag.
        language: Option<String>,
    },
}

impl Term {
    fn blank(&self) -> Option<&str> {
        match self {
            Term::Blank(label) => Some(label),
            _ => None,
        }
    }
}

/// An RDF quad; `graph` is `None` for the default graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Quad {
    /// Subject: IRI or blank node.
    pub subject: Term,
    /// Predicate IRI.
    pub predicate: String,
    /// Object: IRI, blank node or literal.
    pub object: Term,
    /// Graph name: IRI or blank node, `None` for the default graph.
    pub graph: Option<Term>,
}

/// Writes `iri` as an N-Quads IRIREF, with the characters IRIREF forbids as `\uXXXX`.
fn write_iri(out: &mut String, iri: &str) {
    out.push('<');
    for c in iri.chars() {
        match c {
            '\u{0}'..='\u{20}' | '<' | '>' | '"' | '{' | '}' | '|' | '^' | '`' | '\\' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            _ => out.push(c),
        }
    }
    out.push('>');
}

/// Writes a string literal's value in canonical N-Quads form: `"` `\` LF CR and the other
/// control characters escaped (the usual short escapes where there is one, else `\uXXXX`).
fn write_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{0}'..='\u{1f}' | '\u{7f}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            _ => out.push(c),
        }
    }
    out.push('"');
}

/// Writes `term`, blank nodes relabelled by `label`.
fn write_term(out: &mut String, term: &Term, label: &dyn Fn(&str) -> String) {
    match term {
        Term::Iri(iri) => write_iri(out, iri),
        Term::Blank(b) => {
            out.push_str("_:");
            out.push_str(&label(b));
        }
        Term::Literal {
            value,
            datatype,
            language,
        } => {
            write_string(out, value);
            match language {
                Some(tag) if datatype == RDF_LANG_STRING => {
                    out.push('@');
                    out.push_str(tag);
                }
                _ if datatype == XSD_STRING => {}
                _ => {
                    out.push_str("^^");
                    write_iri(out, datatype);
                }
            }
        }
    }
}

/// One quad as a canonical N-Quads line (with its newline), blank nodes relabelled by `label`.
fn serialize_quad(quad: &Quad, label: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    write_term(&mut out, &quad.subject, label);
    out.push(' ');
    write_iri(&mut out, &quad.predicate);
    out.push(' ');
    write_term(&mut out, &quad.object, label);
    if let Some(graph) = &quad.graph {
        out.push(' ');
        write_term(&mut out, graph, label);
    }
    out.push_str(" .\n");
    out
}

/// An identifier issuer: gives labels `prefix0`, `prefix1`, … in the order nodes are met.
#[derive(Debug, Clone)]
struct Issuer {
    prefix: &'static str,
    /// Existing labels, in issue order.
    order: Vec<String>,
    issued: HashMap<String, String>,
}

impl Issuer {
    fn new(prefix: &'static str) -> Self {
        Issuer {
            prefix,
            order: Vec::new(),
            issued: HashMap::new(),
        }
    }

    fn get(&self, existing: &str) -> Option<&String> {
        self.issued.get(existing)
    }

    fn issue(&mut self, existing: &str) -> String {
        if let Some(label) = self.issued.get(existing) {
            return label.clone();
        }
        let label = format!("{}{}", self.prefix, self.order.len());
        self.order.push(existing.to_owned());
        self.issued.insert(existing.to_owned(), label.clone());
        label
    }
}

/// The canonicalisation state over one dataset.
struct State<'a> {
    hash: HashAlgorithm,
    quads: &'a [Quad],
    /// Blank node label → indexes of the quads it appears in.
    node_quads: HashMap<&'a str, Vec<usize>>,
    canonical: Issuer,
    /// First-degree hashes, memoised.
    first_degree: HashMap<String, String>,
    work: u64,
}

impl<'a> State<'a> {
    fn spend(&mut self) -> Result<(), FormatError> {
        self.work += 1;
        if self.work > MAX_WORK {
            return Err(FormatError::Unsupported(format!(
                "RDF dataset canonicalization needs more than {MAX_WORK} steps (a blank node structure this complex is refused as a possible poison graph)"
            )));
        }
        Ok(())
    }

    /// Hash First Degree Quads: the node as `_:a`, every other blank node as `_:z`.
    fn hash_first_degree(&mut self, node: &str) -> String {
        if let Some(h) = self.first_degree.get(node) {
            return h.clone();
        }
        let label = |b: &str| if b == node { "a" } else { "z" }.to_owned();
        let mut lines: Vec<String> = self
            .node_quads
            .get(node)
            .map(|indexes| {
                indexes
                    .iter()
                    .map(|&i| serialize_quad(&self.quads[i], &label))
                    .collect()
            })
            .unwrap_or_default();
        lines.sort();
        let h = self.hash.hex(lines.concat().as_bytes());
        self.first_degree.insert(node.to_owned(), h.clone());
        h
    }

    /// Hash Related Blank Node: position, predicate (except for graphs) and the related
    /// node's canonical label, else its label in `issuer`, else its first-degree hash.
    fn hash_related(
        &mut self,
        related: &str,
        quad: &Quad,
        issuer: &Issuer,
        position: char,
    ) -> String {
        let mut input = String::new();
        input.push(position);
        if position != 'g' {
            input.push('<');
            input.push_str(&quad.predicate);
            input.push('>');
        }
        if let Some(label) = self.canonical.get(related).or_else(|| issuer.get(related)) {
            input.push_str("_:");
            input.push_str(label);
        } else {
            let first = self.hash_first_degree(related);
            input.push_str(&first);
        }
        self.hash.hex(input.as_bytes())
    }

    /// Hash N-Degree Quads for `node` with the temporary `issuer`; returns the hash and the
    /// issuer as extended by the chosen path.
    fn hash_n_degree(
        &mut self,
        node: &str,
        mut issuer: Issuer,
    ) -> Result<(String, Issuer), FormatError> {
        self.spend()?;
        let mut related_by_hash: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let indexes = self.node_quads.get(node).cloned().unwrap_or_default();
        for i in indexes {
            let quad = &self.quads[i];
            let components = [
                ('s', Some(&quad.subject)),
                ('o', Some(&quad.object)),
                ('g', quad.graph.as_ref()),
            ];
            for (position, term) in components {
                if let Some(related) = term.and_then(Term::blank)
                    && related != node
                {
                    let h = self.hash_related(related, quad, &issuer, position);
                    related_by_hash
                        .entry(h)
                        .or_default()
                        .push(related.to_owned());
                }
            }
        }
        let mut data = String::new();
        for (related_hash, mut nodes) in related_by_hash {
            data.push_str(&related_hash);
            let mut chosen_path = String::new();
            let mut chosen_issuer: Option<Issuer> = None;
            nodes.sort();
            loop {
                self.spend()?;
                if let Some((path, copy)) = self.try_permutation(&nodes, &issuer, &chosen_path)?
                    && (chosen_issuer.is_none() || path < chosen_path)
                {
                    chosen_path = path;
                    chosen_issuer = Some(copy);
                }
                if !next_permutation(&mut nodes) {
                    break;
                }
            }
            data.push_str(&chosen_path);
            if let Some(chosen) = chosen_issuer {
                issuer = chosen;
            }
        }
        Ok((self.hash.hex(data.as_bytes()), issuer))
    }

    /// One permutation of the related nodes: its path and issuer, or `None` once the path
    /// cannot beat `chosen_path`.
    fn try_permutation(
        &mut self,
        permutation: &[String],
        issuer: &Issuer,
        chosen_path: &str,
    ) -> Result<Option<(String, Issuer)>, FormatError> {
        let worse = |path: &str| {
            !chosen_path.is_empty() && path.len() >= chosen_path.len() && path > chosen_path
        };
        let mut copy = issuer.clone();
        let mut path = String::new();
        let mut recursion = Vec::new();
        for related in permutation {
            if let Some(label) = self.canonical.get(related) {
                path.push_str("_:");
                path.push_str(label);
            } else {
                if copy.get(related).is_none() {
                    recursion.push(related.clone());
                }
                path.push_str("_:");
                path.push_str(&copy.issue(related));
            }
            if worse(&path) {
                return Ok(None);
            }
        }
        for related in recursion {
            let (hash, extended) = self.hash_n_degree(&related, copy.clone())?;
            path.push_str("_:");
            path.push_str(&copy.issue(&related));
            path.push('<');
            path.push_str(&hash);
            path.push('>');
            copy = extended;
            if worse(&path) {
                return Ok(None);
            }
        }
        Ok(Some((path, copy)))
    }
}

/// Rearranges `items` into the next permutation in lexicographic order; `false` after the last.
fn next_permutation(items: &mut [String]) -> bool {
    let Some(i) = items.windows(2).rposition(|w| w[0] < w[1]) else {
        return false;
    };
    let Some(j) = items.iter().rposition(|x| *x > items[i]) else {
        return false;
    };
    items.swap(i, j);
    items[i + 1..].reverse();
    true
}

/// The RDFC-1.0 canonical N-Quads of `quads` (a set: duplicates are written once), hashing
/// with `hash`.
pub fn canonicalize(quads: &[Quad], hash: HashAlgorithm) -> Result<String, FormatError> {
    let canonical = canonical_labels(quads, hash)?;
    let label = |b: &str| {
        canonical
            .labels
            .get(b)
            .cloned()
            .unwrap_or_else(|| b.to_owned())
    };
    let mut lines: Vec<String> = canonical
        .quads
        .iter()
        .map(|q| serialize_quad(q, &label))
        .collect();
    lines.sort();
    lines.dedup();
    Ok(lines.concat())
}

/// A dataset with the canonical blank node labels RDFC-1.0 issued for it.
#[derive(Debug, Clone)]
pub struct Canonical {
    /// The quads of the dataset, each once, with their input labels.
    pub quads: Vec<Quad>,
    /// Input blank node label → canonical label (`c14n0`, `c14n1`, …).
    pub labels: HashMap<String, String>,
}

/// Runs RDFC-1.0 over `quads` and returns the canonical issuer's map (input label → `c14nN`)
/// with the deduplicated quads: what the selective disclosure suites relabel from.
pub fn canonical_labels(quads: &[Quad], hash: HashAlgorithm) -> Result<Canonical, FormatError> {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<Quad> = quads.iter().filter(|q| seen.insert(*q)).cloned().collect();
    let labels = issue_canonical(&unique, hash)?;
    Ok(Canonical {
        quads: unique,
        labels,
    })
}

/// The canonical labels of the blank nodes of `quads` (already deduplicated).
fn issue_canonical(
    quads: &[Quad],
    hash: HashAlgorithm,
) -> Result<HashMap<String, String>, FormatError> {
    let mut node_quads: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, quad) in quads.iter().enumerate() {
        for term in [Some(&quad.subject), Some(&quad.object), quad.graph.as_ref()] {
            if let Some(b) = term.and_then(Term::blank) {
                let list = node_quads.entry(b).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
    }
    let mut state = State {
        hash,
        quads,
        node_quads,
        canonical: Issuer::new("c14n"),
        first_degree: HashMap::new(),
        work: 0,
    };
    let mut nodes: Vec<&str> = state.node_quads.keys().copied().collect();
    nodes.sort_unstable();
    let mut by_hash: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in nodes {
        let h = state.hash_first_degree(node);
        by_hash.entry(h).or_default().push(node.to_owned());
    }
    // Nodes with a unique first-degree hash, in hash order.
    let mut shared = Vec::new();
    for (_, group) in by_hash {
        match group.as_slice() {
            [only] => {
                state.canonical.issue(only);
            }
            _ => shared.push(group),
        }
    }
    // Nodes sharing a hash: ordered by their N-degree hashes.
    for group in shared {
        let mut results = Vec::new();
        for node in &group {
            if state.canonical.get(node).is_some() {
                continue;
            }
            let mut temporary = Issuer::new("b");
            temporary.issue(node);
            results.push(state.hash_n_degree(node, temporary)?);
        }
        results.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, issuer) in results {
            for existing in &issuer.order {
                state.canonical.issue(existing);
            }
        }
    }
    Ok(state.canonical.issued)
}

/// One quad as a canonical N-Quads line (with its newline), blank nodes relabelled by `label`.
pub fn nquad_line(quad: &Quad, label: &dyn Fn(&str) -> String) -> String {
    serialize_quad(quad, label)
}

/// A strict reader of N-Quads documents (RDF 1.1): IRIs, blank nodes, literals with `\`
/// escapes, comments and blank lines. Relative IRIs are refused.
pub fn parse_nquads(text: &str) -> Result<Vec<Quad>, FormatError> {
    let mut quads = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut reader = Reader {
            chars: line.chars().collect(),
            at: 0,
        };
        reader.skip_space();
        if reader.done() || reader.peek() == Some('#') {
            continue;
        }
        let quad = reader
            .quad()
            .map_err(|e| FormatError::malformed(WHAT, format!("line {}: {e}", n + 1)))?;
        quads.push(quad);
    }
    Ok(quads)
}

struct Reader {
    chars: Vec<char>,
    at: usize,
}

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn done(&self) -> bool {
        self.at >= self.chars.len()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.at += 1;
        c
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        match self.next() {
            Some(got) if got == c => Ok(()),
            got => Err(format!("expected {c:?}, found {got:?}")),
        }
    }

    fn quad(&mut self) -> Result<Quad, String> {
        let subject = self.term()?;
        if matches!(subject, Term::Literal { .. }) {
            return Err("a literal subject".into());
        }
        self.skip_space();
        let predicate = match self.term()? {
            Term::Iri(iri) => iri,
            _ => return Err("the predicate is not an IRI".into()),
        };
        self.skip_space();
        let object = self.term()?;
        self.skip_space();
        let graph = if self.peek() == Some('.') {
            None
        } else {
            let g = self.term()?;
            if matches!(g, Term::Literal { .. }) {
                return Err("a literal graph name".into());
            }
            self.skip_space();
            Some(g)
        };
        self.expect('.')?;
        self.skip_space();
        if !(self.done() || self.peek() == Some('#')) {
            return Err("text after the end of the quad".into());
        }
        Ok(Quad {
            subject,
            predicate,
            object,
            graph,
        })
    }

    fn term(&mut self) -> Result<Term, String> {
        match self.peek() {
            Some('<') => self.iri().map(Term::Iri),
            Some('_') => {
                self.at += 1;
                self.expect(':')?;
                let start = self.at;
                while let Some(c) = self.peek() {
                    if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':') {
                        self.at += 1;
                    } else {
                        break;
                    }
                }
                // A label does not end with '.'.
                while self.at > start && self.chars[self.at - 1] == '.' {
                    self.at -= 1;
                }
                if self.at == start {
                    return Err("an empty blank node label".into());
                }
                Ok(Term::Blank(self.chars[start..self.at].iter().collect()))
            }
            Some('"') => {
                self.at += 1;
                let mut value = String::new();
                loop {
                    match self.next() {
                        None => return Err("an unterminated literal".into()),
                        Some('"') => break,
                        Some('\\') => value.push(self.escape(true)?),
                        Some('\n' | '\r') => return Err("a line break in a literal".into()),
                        Some(c) => value.push(c),
                    }
                }
                match self.peek() {
                    Some('@') => {
                        self.at += 1;
                        let start = self.at;
                        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == '-')
                        {
                            self.at += 1;
                        }
                        if self.at == start {
                            return Err("an empty language tag".into());
                        }
                        Ok(Term::Literal {
                            value,
                            datatype: RDF_LANG_STRING.into(),
                            language: Some(self.chars[start..self.at].iter().collect()),
                        })
                    }
                    Some('^') => {
                        self.at += 1;
                        self.expect('^')?;
                        let datatype = self.iri()?;
                        Ok(Term::Literal {
                            value,
                            datatype,
                            language: None,
                        })
                    }
                    _ => Ok(Term::Literal {
                        value,
                        datatype: XSD_STRING.into(),
                        language: None,
                    }),
                }
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }

    fn iri(&mut self) -> Result<String, String> {
        self.expect('<')?;
        let mut iri = String::new();
        loop {
            match self.next() {
                None => return Err("an unterminated IRI".into()),
                Some('>') => break,
                Some('\\') => iri.push(self.escape(false)?),
                Some(c @ ('\u{0}'..='\u{20}' | '<' | '"' | '{' | '}' | '|' | '^' | '`')) => {
                    return Err(format!("{c:?} in an IRI"));
                }
                Some(c) => iri.push(c),
            }
        }
        if !iri.contains(':') {
            return Err(format!("relative IRI <{iri}>"));
        }
        Ok(iri)
    }

    /// After a `\`: a `\u`/`\U` escape, or (in literals) a short escape.
    fn escape(&mut self, literal: bool) -> Result<char, String> {
        let digits = match self.next() {
            Some('u') => 4,
            Some('U') => 8,
            Some(c) if literal => {
                return match c {
                    't' => Ok('\t'),
                    'b' => Ok('\u{8}'),
                    'n' => Ok('\n'),
                    'r' => Ok('\r'),
                    'f' => Ok('\u{c}'),
                    '"' => Ok('"'),
                    '\'' => Ok('\''),
                    '\\' => Ok('\\'),
                    other => Err(format!("unknown escape \\{other}")),
                };
            }
            other => return Err(format!("unknown escape {other:?}")),
        };
        let mut code = 0u32;
        for _ in 0..digits {
            let d = self
                .next()
                .and_then(|c| c.to_digit(16))
                .ok_or("a bad \\u escape")?;
            code = code * 16 + d;
        }
        char::from_u32(code).ok_or_else(|| format!("\\u escape {code:X} is not a character"))
    }
}
