//! The register in bulk: a CSV file of entities and their certificates, imported in one
//! transaction after every line has been checked, and the whole register exported in the same
//! columns. Written once for the CLI (`zp register`) and the staff panel.
//!
//! The file is UTF-8, with or without a byte order mark, one certificate a line under a header
//! line that names the columns ([`COLUMNS`]; [`REQUIRED_COLUMNS`] must be there, the others may
//! be left out). Lists in one cell are separated by `;`: domains as they are, products as
//! `NAME` or `NAME=GTIN`, with `\;`, `\=` and `\\` for those characters in a name. A cell that
//! starts with `=`, `+`, `-`, `@`, a tab or a carriage return is written with a `'` before it,
//! so that spreadsheet software shows it as text instead of running it as a formula; the import
//! takes that `'` away again.

use std::collections::HashMap;

use super::*;

/// Largest file the import reads, in bytes.
pub const IMPORT_MAX_BYTES: usize = 8 * 1024 * 1024;
/// Most certificate lines one import takes (blank lines are not counted).
pub const IMPORT_MAX_ROWS: usize = 5_000;
/// Longest certificate number kept from a file, in characters.
pub const NUMBER_MAX: usize = 50;

/// The columns, in the order the export writes them.
pub const COLUMNS: [&str; 17] = [
    "number",
    "id",
    "name",
    "legal_form",
    "nip",
    "regon",
    "krs",
    "city",
    "voivodeship",
    "domains",
    "contact",
    "products",
    "valid_from",
    "valid_until",
    "state",
    "reason",
    "note",
];

/// The columns an import file must have. A column left out is blank on every line.
pub const REQUIRED_COLUMNS: [&str; 5] = ["name", "legal_form", "domains", "products", "valid_from"];

/// What separates the items of a list in one cell, as the export writes it.
pub const LIST_SEPARATOR: &str = "; ";

const BOM: &[u8] = b"\xEF\xBB\xBF";
/// Certificates read from the store at once by the export.
const EXPORT_PAGE: u32 = 500;

/// What an import found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Certificate lines in the file (blank lines are not counted).
    pub rows: usize,
    /// Entities the import creates (or, in a dry run, would create); 0 when there are errors.
    pub entities: usize,
    /// Entities already registered (by NIP) that the file's certificates are added to.
    pub reused_entities: usize,
    /// Certificates the import creates (or would create); 0 when there are errors.
    pub certificates: usize,
    /// Every refusal, in line order. Any refusal means nothing was written.
    pub errors: Vec<RowError>,
    /// Whether the import was written: asked for, and without errors.
    pub committed: bool,
}

/// One refusal of an import, where a spreadsheet shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The line, counted as a spreadsheet numbers its rows: the header is line 1.
    pub row: usize,
    /// The column's header name; empty when the refusal is about the whole line.
    pub column: String,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.column.is_empty() {
            write!(f, "line {}: {}", self.row, self.message)
        } else {
            write!(f, "line {}, column {}: {}", self.row, self.column, self.message)
        }
    }
}

fn row_error(row: usize, column: &str, message: impl Into<String>) -> RowError {
    RowError { row, column: column.to_owned(), message: message.into() }
}

/// A refusal of the issuer's checks as a refusal of a cell: `domains[1]` and
/// `products[0].gtin` are items of the `domains` and `products` cells.
fn cell_error(row: usize, err: IssuerError) -> RowError {
    let IssuerError::Invalid { field, message } = err else {
        return row_error(row, "", err.to_string());
    };
    let Some((column, rest)) = field.split_once('[') else {
        return RowError { row, column: field, message };
    };
    let (index, part) = rest.split_once(']').unwrap_or((rest, ""));
    let item = index.parse::<usize>().map_or_else(|_| index.to_owned(), |i| (i + 1).to_string());
    let message = match (column, part) {
        ("products", ".name") => format!("product {item}, name: {message}"),
        ("products", ".gtin") => format!("product {item}, GTIN: {message}"),
        ("products", _) => format!("product {item}: {message}"),
        ("domains", _) => format!("domain {item}: {message}"),
        (_, _) => format!("item {item}: {message}"),
    };
    row_error(row, column, message)
}

// --- cells -------------------------------------------------------------------------------------

/// Whether spreadsheet software would read a cell starting with `c` as a formula.
fn formula_start(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// A cell as the export writes it: with a `'` before anything that would start a formula. A
/// value that already starts with `'`s before such a character gets one more, so that
/// [`unguard`] gives every value back exactly.
pub fn guard(value: &str) -> String {
    if formula_start(value.trim_start_matches('\'')) { format!("'{value}") } else { value.to_owned() }
}

/// A cell as the import reads it: without the `'` [`guard`] put before a formula's start.
pub fn unguard(value: &str) -> &str {
    match value.strip_prefix('\'') {
        Some(rest) if formula_start(rest.trim_start_matches('\'')) => rest,
        _ => value,
    }
}

/// Products in one cell: `NAME` or `NAME=GTIN`, separated by [`LIST_SEPARATOR`], with `\;`, `\=`
/// and `\\` for those characters in a name.
pub fn products_cell(products: &[ProductRecord]) -> String {
    let items: Vec<String> = products
        .iter()
        .map(|product| {
            let mut item = String::with_capacity(product.name.len() + 16);
            for c in product.name.chars() {
                if matches!(c, '\\' | ';' | '=') {
                    item.push('\\');
                }
                item.push(c);
            }
            if let Some(gtin) = &product.gtin {
                item.push('=');
                item.push_str(gtin);
            }
            item
        })
        .collect();
    items.join(LIST_SEPARATOR)
}

/// The products of a [`products_cell`]. A backslash before any other character stays as it
/// is; blank items (a `;` at the end) are skipped.
pub fn parse_products_cell(cell: &str) -> Vec<NewProduct> {
    let mut products = Vec::new();
    // The name so far, and the GTIN once an unescaped `=` has been met.
    let mut name = String::new();
    let mut gtin: Option<String> = None;
    let mut finish = |name: &mut String, gtin: &mut Option<String>| {
        let item = NewProduct { name: std::mem::take(name), gtin: gtin.take() };
        if !item.name.trim().is_empty() || item.gtin.is_some() {
            products.push(item);
        }
    };
    let mut chars = cell.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('\\' | ';' | '=')) => {
                let escaped = chars.next().unwrap_or('\\');
                gtin.as_mut().unwrap_or(&mut name).push(escaped);
            }
            ';' => finish(&mut name, &mut gtin),
            // A second `=` makes what came after the first part of the name: the GTIN is after
            // the last one, as `zp cert issue --product` reads it.
            '=' => {
                if let Some(earlier) = gtin.take() {
                    name.push('=');
                    name.push_str(&earlier);
                }
                gtin = Some(String::new());
            }
            other => gtin.as_mut().unwrap_or(&mut name).push(other),
        }
    }
    finish(&mut name, &mut gtin);
    products
}

/// The domains of one cell, separated by `;`, `,` or white space.
fn parse_domains_cell(cell: &str) -> Vec<String> {
    cell.split(|c: char| c == ';' || c == ',' || c.is_whitespace())
        .filter(|domain| !domain.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `text` for comparing names: folded, with runs of white space as one space.
fn name_key(text: &str) -> String {
    fold(text).split_whitespace().collect::<Vec<_>>().join(" ")
}

// --- the file ----------------------------------------------------------------------------------

/// The lines of an import file, still as bytes, with the header read.
struct Sheet {
    /// Where each known column is among a line's cells.
    columns: HashMap<&'static str, usize>,
    /// How many cells the header has.
    width: usize,
    lines: Vec<SheetLine>,
}

struct SheetLine {
    row: usize,
    cells: Vec<Vec<u8>>,
}

/// The field delimiter of the file: `,`, or `;` or a tab when the header line has more of
/// those (spreadsheets set to Polish save `;`-separated files).
fn delimiter(file: &[u8]) -> u8 {
    let header = file.split(|b| *b == b'\n').next().unwrap_or_default();
    let count = |d: u8| header.iter().filter(|b| **b == d).count();
    [b';', b'\t'].into_iter().fold(b',', |best, d| if count(d) > count(best) { d } else { best })
}

/// Reads the file's lines. Refuses a file too large, without a header or with too many lines;
/// what is wrong with the header goes into `errors`.
fn read_sheet(file: &[u8], errors: &mut Vec<RowError>) -> IssuerResult<Sheet> {
    if file.len() > IMPORT_MAX_BYTES {
        return Err(invalid(
            "file",
            format!(
                "is {} bytes; an import reads at most {IMPORT_MAX_BYTES} bytes ({} MiB): split the file",
                file.len(),
                IMPORT_MAX_BYTES / (1024 * 1024)
            ),
        ));
    }
    let file = file.strip_prefix(BOM).unwrap_or(file);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter(file))
        .from_reader(file);
    let mut records = reader.byte_records();
    let Some(header) = records.next() else {
        return Err(invalid("file", "is empty: the first line must name the columns"));
    };
    let header = header.map_err(|err| invalid("file", format!("line 1 cannot be read: {err}")))?;
    // Newlines inside quoted cells, so far: a spreadsheet shows such a cell in one row.
    let mut inner_newlines = newlines(&header);
    let mut lines_before = LineCounter::default();
    let mut columns = HashMap::new();
    for (index, cell) in header.iter().enumerate() {
        let Ok(text) = std::str::from_utf8(cell) else {
            errors.push(row_error(
                1,
                "",
                format!("column {} of the header is not UTF-8 text: {SAVE_UTF8}", index + 1),
            ));
            continue;
        };
        let name = unguard(text).trim().to_lowercase();
        match COLUMNS.iter().find(|column| **column == name) {
            None if name.is_empty() => {
                errors.push(row_error(1, "", format!("column {} of the header has no name", index + 1)))
            }
            None => errors.push(row_error(
                1,
                &name,
                format!("is not a column of the register; the columns are {}", COLUMNS.join(", ")),
            )),
            Some(column) if columns.contains_key(column) => {
                errors.push(row_error(1, column, "is in the header twice"))
            }
            Some(column) => {
                columns.insert(*column, index);
            }
        }
    }
    for column in REQUIRED_COLUMNS {
        if !columns.contains_key(column) {
            errors.push(row_error(1, column, "column is missing from the header (line 1)"));
        }
    }
    let mut lines = Vec::new();
    for record in records {
        let record = record.map_err(|err| invalid("file", format!("cannot be read: {err}")))?;
        let start = record.position().map_or(0, |at| usize::try_from(at.byte()).unwrap_or(usize::MAX));
        let row = lines_before.line_at(file, start).saturating_sub(inner_newlines);
        inner_newlines += newlines(&record);
        if record.iter().all(|cell| cell.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        if lines.len() == IMPORT_MAX_ROWS {
            return Err(invalid(
                "file",
                format!("has more than {IMPORT_MAX_ROWS} certificate lines (line {row}): split the file"),
            ));
        }
        lines.push(SheetLine { row, cells: record.iter().map(<[u8]>::to_vec).collect() });
    }
    Ok(Sheet { columns, width: header.len(), lines })
}

const SAVE_UTF8: &str = "save the file as UTF-8 (\"CSV UTF-8\" in spreadsheet software)";

/// The line on which a record starts, counted from the file's bytes: the reader's own count
/// depends on where it stopped in the line ends before (`\r\n`, blank lines).
#[derive(Default)]
struct LineCounter {
    /// Bytes counted so far, and the newlines among them.
    counted: usize,
    newlines: usize,
}

impl LineCounter {
    /// The 1-based line of the first byte at or after `start` that is not a line end. Records
    /// come in order, so each byte is counted once.
    fn line_at(&mut self, file: &[u8], start: usize) -> usize {
        let mut at = start.min(file.len());
        while matches!(file.get(at), Some(b'\r' | b'\n')) {
            at += 1;
        }
        let at = at.max(self.counted);
        self.newlines +=
            file.get(self.counted..at).map_or(0, |bytes| bytes.iter().filter(|b| **b == b'\n').count());
        self.counted = at;
        self.newlines + 1
    }
}

fn newlines(record: &csv::ByteRecord) -> usize {
    record.iter().map(|cell| cell.iter().filter(|b| **b == b'\n').count()).sum()
}

impl Sheet {
    /// The cells of `line` by column, without their formula guards; blank for a column left
    /// out. Refuses a line whose cells are not UTF-8 or whose count is not the header's.
    fn cells(&self, line: &SheetLine) -> Result<HashMap<&'static str, String>, Vec<RowError>> {
        let mut errors = Vec::new();
        if line.cells.len() != self.width {
            errors.push(row_error(
                line.row,
                "",
                format!(
                    "has {} cells, the header {}: check the separators and quotes",
                    line.cells.len(),
                    self.width
                ),
            ));
        }
        let mut cells = HashMap::new();
        for column in COLUMNS {
            let Some(bytes) = self.columns.get(column).and_then(|index| line.cells.get(*index)) else {
                cells.insert(column, String::new());
                continue;
            };
            match std::str::from_utf8(bytes) {
                Ok(text) => {
                    cells.insert(column, unguard(text).to_owned());
                }
                Err(err) => errors.push(row_error(
                    line.row,
                    column,
                    format!("is not UTF-8 text (byte {}): {SAVE_UTF8}", err.valid_up_to() + 1),
                )),
            }
        }
        if errors.is_empty() { Ok(cells) } else { Err(errors) }
    }
}

// --- one line ----------------------------------------------------------------------------------

/// A checked line: one certificate and its entity.
#[derive(Debug)]
struct ImportRow {
    row: usize,
    /// The entity's NIP, or its folded name when it has none: lines with the same key are
    /// certificates of one entity.
    key: String,
    entity: EntityRecord,
    id: Option<String>,
    number: Option<String>,
    products: Vec<ProductRecord>,
    valid_from: NaiveDate,
    valid_until: NaiveDate,
    state: CertState,
    reason: Option<String>,
    note: Option<String>,
}

/// A certificate's dates: `valid_from` at most ten years back (an existing register keeps its
/// history; a new certificate may start at most two years back) and one year ahead;
/// `valid_until` a year after it when blank, after it, and at most two years from today (as
/// far as issuing a year ahead, or renewing, can reach).
fn dates(
    row: usize,
    cells: &HashMap<&str, String>,
    now: i64,
    errors: &mut Vec<RowError>,
) -> Option<(NaiveDate, NaiveDate)> {
    let today = date_of(now);
    let read = |column: &str| -> Result<Option<NaiveDate>, RowError> {
        let text = cells.get(column).map_or("", |text| text.trim());
        if text.is_empty() {
            return Ok(None);
        }
        parse_date(text).map(Some).ok_or_else(|| row_error(row, column, "must be a date written YYYY-MM-DD"))
    };
    let from = match read("valid_from") {
        Ok(Some(from)) => from,
        Ok(None) => {
            errors.push(row_error(row, "valid_from", "must be given: the first day of validity, YYYY-MM-DD"));
            return None;
        }
        Err(err) => {
            errors.push(err);
            return None;
        }
    };
    let days = (from - today).num_days();
    if !(-3_653..=366).contains(&days) {
        errors.push(row_error(
            row,
            "valid_from",
            "must be at most ten years before today and one year after",
        ));
        return None;
    }
    let until = match read("valid_until") {
        Ok(Some(until)) => until,
        Ok(None) => plus_one_year(from),
        Err(err) => {
            errors.push(err);
            return None;
        }
    };
    if until <= from {
        let message = format!("must be after valid_from ({})", format_date(day_start(from)));
        errors.push(row_error(row, "valid_until", message));
        return None;
    }
    let latest = plus_one_year(plus_one_year(today));
    if until > latest {
        let message = format!(
            "must be at most two years after today ({}): the mark is granted a year at a time",
            format_date(day_start(latest))
        );
        errors.push(row_error(row, "valid_until", message));
        return None;
    }
    Some((from, until))
}

/// A certificate's state and what goes with it: a reason only when revoked (and then one of
/// [`RevocationReason`]), a public note only when suspended or revoked.
fn state(
    row: usize,
    cells: &HashMap<&str, String>,
    errors: &mut Vec<RowError>,
) -> Option<(CertState, Option<String>, Option<String>)> {
    let text = |column: &str| cells.get(column).map_or(String::new(), |text| text.trim().to_lowercase());
    let state = match text("state").as_str() {
        "" | "active" => CertState::Active,
        "suspended" => CertState::Suspended,
        "revoked" => CertState::Revoked,
        _ => {
            errors.push(row_error(row, "state", "must be active, suspended or revoked (blank: active)"));
            return None;
        }
    };
    let reason = text("reason");
    let reason = match (state, reason.as_str()) {
        (CertState::Revoked, "") => {
            errors.push(row_error(
                row,
                "reason",
                format!("a revoked certificate needs a reason: {}", reason_codes()),
            ));
            return None;
        }
        (CertState::Revoked, code) => match RevocationReason::parse(code) {
            Some(reason) => Some(reason.as_str().to_owned()),
            None => {
                errors.push(row_error(row, "reason", format!("must be one of {}", reason_codes())));
                return None;
            }
        },
        (_, "") => None,
        (_, _) => {
            errors.push(row_error(row, "reason", "only a revoked certificate has a reason"));
            return None;
        }
    };
    let note = match optional_text("note", &cells.get("note").cloned(), NOTE_MAX) {
        Ok(note) => note,
        Err(err) => {
            errors.push(cell_error(row, err));
            return None;
        }
    };
    if note.is_some() && state == CertState::Active {
        errors.push(row_error(row, "note", "only a suspended or revoked certificate has a public note"));
        return None;
    }
    Some((state, reason, note))
}

fn reason_codes() -> String {
    RevocationReason::ALL.map(RevocationReason::as_str).join(", ")
}

impl Issuer {
    /// One line checked as `create_entity` and `issue` check their input, every refusal kept.
    fn import_row(
        &self,
        row: usize,
        cells: &HashMap<&str, String>,
        now: i64,
    ) -> Result<ImportRow, Vec<RowError>> {
        let mut errors = Vec::new();
        let cell = |column: &str| cells.get(column).cloned().unwrap_or_default();
        let given = |column: &str| Some(cell(column)).filter(|text| !text.trim().is_empty());
        let input = NewEntity {
            name: cell("name"),
            legal_form: cell("legal_form").trim().to_lowercase(),
            domains: parse_domains_cell(&cell("domains")),
            nip: given("nip"),
            regon: given("regon"),
            krs: given("krs"),
            city: given("city"),
            // As staff type it, as `zp entity create` takes it.
            voivodeship: given("voivodeship").map(|text| text.trim().to_lowercase()),
            contact: given("contact"),
        };
        let entity = match entity_record_all(input, now) {
            Ok(entity) => match self.check_token_budget(&entity) {
                Ok(()) => Some(entity),
                Err(err) => {
                    errors.push(cell_error(row, err));
                    None
                }
            },
            Err(refusals) => {
                errors.extend(refusals.into_iter().map(|err| cell_error(row, err)));
                None
            }
        };
        let products = validate_products("products", &parse_products_cell(&cell("products")), now)
            .map_err(|err| errors.push(cell_error(row, err)))
            .ok();
        let dates = dates(row, cells, now, &mut errors);
        let state = state(row, cells, &mut errors);
        let id = match given("id") {
            None => Some(None),
            Some(text) => match ids::normalize_certificate_id(&text) {
                Some(id) => Some(Some(id)),
                None => {
                    errors.push(row_error(
                        row,
                        "id",
                        "is not a certificate ID (8 characters of Crockford base32)",
                    ));
                    None
                }
            },
        };
        let number = match given("number") {
            None => Some(None),
            Some(text) => clean_text("number", &text, NUMBER_MAX)
                .map(Some)
                .map_err(|err| errors.push(cell_error(row, err)))
                .ok(),
        };
        match (entity, products, dates, state, id, number) {
            (
                Some(entity),
                Some(products),
                Some((valid_from, valid_until)),
                Some((state, reason, note)),
                Some(id),
                Some(number),
            ) if errors.is_empty() => Ok(ImportRow {
                row,
                key: entity.nip.clone().unwrap_or_else(|| format!("name:{}", name_key(&entity.name))),
                entity,
                id,
                number,
                products,
                valid_from,
                valid_until,
                state,
                reason,
                note,
            }),
            _ => Err(errors),
        }
    }

    /// Imports a register from CSV (see the module's documentation for the file): every line
    /// is checked first, against the issuer's rules, against the other lines and against the
    /// registry; only a file without a single refusal is written, all of it in one transaction
    /// with an audit entry for each entity and certificate and one for the import.
    ///
    /// Lines of one entity (the same NIP, or the same name when there is no NIP) make one
    /// entity with several certificates, and must describe it the same way. An entity whose NIP
    /// is already registered is reused as registered (the file's other details of it are not
    /// applied), when the names agree. Certificate IDs and numbers from the file are kept, and
    /// refused when taken, in the file or the registry; blank ones are drawn and assigned as
    /// [`Issuer::issue`] does. Every certificate gets a signed token; suspended and revoked ones
    /// show so in the status list at once.
    ///
    /// With `commit` false (a dry run) the same work is done and rolled back, so a dry run finds
    /// every refusal a commit would. Refusals of the file as a whole (too large, too many lines,
    /// empty, unreadable) are errors naming `file`; everything else is in the report.
    pub async fn import_register(
        &self,
        actor: &str,
        csv: &[u8],
        commit: bool,
        now: i64,
    ) -> IssuerResult<ImportReport> {
        let mut report = ImportReport::default();
        let sheet = read_sheet(csv, &mut report.errors)?;
        report.rows = sheet.lines.len();
        if !report.errors.is_empty() {
            // The header is wrong: the lines cannot be read by it.
            return Ok(report);
        }
        let mut rows = Vec::new();
        for line in &sheet.lines {
            match sheet.cells(line).and_then(|cells| self.import_row(line.row, &cells, now)) {
                Ok(row) => rows.push(row),
                Err(errors) => report.errors.extend(errors),
            }
        }
        report.errors.extend(across_lines(&rows));

        let mut tx = self.store.begin().await?;
        // Entities by key: the registered one (reused) or the file's first line's.
        let mut entities: HashMap<String, (EntityRecord, bool)> = HashMap::new();
        for row in &rows {
            if entities.contains_key(&row.key) {
                continue;
            }
            let registered = match &row.entity.nip {
                Some(nip) => tx.entity_by_nip(nip).await?,
                None => None,
            };
            match registered {
                Some(registered) if name_key(&registered.name) != name_key(&row.entity.name) => {
                    let message = format!(
                        "is registered to {:?} (entity {}), not {:?}: check the NIP, or write the name as registered",
                        registered.name, registered.id, row.entity.name
                    );
                    report.errors.push(row_error(row.row, "nip", message));
                    entities.insert(row.key.clone(), (registered, true));
                }
                Some(registered) => {
                    entities.insert(row.key.clone(), (registered, true));
                }
                None => {
                    entities.insert(row.key.clone(), (row.entity.clone(), false));
                }
            }
        }
        for row in &rows {
            if let Some(number) = &row.number
                && let Some(id) = tx.certificate_id_by_number(number).await?
            {
                let message = format!("{number} is already the number of certificate {id} in the registry");
                report.errors.push(row_error(row.row, "number", message));
            }
            if let Some(id) = &row.id
                && tx.certificate(id).await?.is_some()
            {
                report.errors.push(row_error(
                    row.row,
                    "id",
                    format!("{id} is already a certificate in the registry"),
                ));
            }
        }
        if !report.errors.is_empty() {
            report.errors.sort_by_key(|err| err.row);
            return Ok(report);
        }

        // Entities first, in the file's order.
        let mut created = std::collections::HashSet::new();
        for row in &rows {
            let Some((entity, reused)) = entities.get(&row.key) else { continue };
            if *reused || !created.insert(row.key.clone()) {
                continue;
            }
            tx.insert_entity(entity).await?;
            let details = serde_json::json!({
                "name": entity.name, "nip": entity.nip, "domains": entity.domains, "line": row.row,
            });
            tx.append_audit(&Self::audit(actor, "entity.import", &entity.id, details, now)).await?;
        }
        report.entities = created.len();
        report.reused_entities = entities.values().filter(|(_, reused)| *reused).count();

        // Certificates with their own numbers first, so that numbers assigned after them
        // pass over those.
        let mut order: Vec<&ImportRow> = rows.iter().collect();
        order.sort_by_key(|row| (row.number.is_none(), row.row));
        for row in order {
            let Some((entity, _)) = entities.get(&row.key) else { continue };
            let id = match &row.id {
                Some(id) => id.clone(),
                None => self.free_certificate_id(&mut tx).await?,
            };
            let number = match &row.number {
                Some(number) => number.clone(),
                None => self.next_number(&mut tx, row.valid_from.year()).await?,
            };
            let certificate = CertificateRecord {
                search_text: search_text(&id, &number, entity, &row.products),
                id,
                number,
                entity_id: entity.id.clone(),
                status_idx: tx.next_status_idx().await?,
                state: row.state,
                valid_from: day_start(row.valid_from),
                valid_until: day_start(row.valid_until),
                reason: row.reason.clone(),
                public_note: row.note.clone(),
                created_at: now,
                updated_at: now,
            };
            tx.insert_certificate(&certificate).await?;
            for (position, product) in row.products.iter().enumerate() {
                tx.insert_product(&certificate.id, position as i64, product).await?;
            }
            // A refusal here (a token over its size) comes before any statement, so the
            // transaction goes on and the other lines are still checked.
            let token = match self.mint(&mut tx, &certificate, entity, &row.products, now).await {
                Ok(token) => token,
                Err(err @ IssuerError::Invalid { .. }) => {
                    report.errors.push(cell_error(row.row, err));
                    continue;
                }
                Err(err) => return Err(err),
            };
            let products: Vec<NewProduct> = row
                .products
                .iter()
                .map(|p| NewProduct { name: p.name.clone(), gtin: p.gtin.clone() })
                .collect();
            let details = serde_json::json!({
                "line": row.row,
                "number": certificate.number,
                "entity_id": entity.id,
                "products": products,
                "valid_from": format_date(certificate.valid_from),
                "valid_until": format_date(certificate.valid_until),
                "state": certificate.state.as_str(),
                "reason": certificate.reason,
                "note": certificate.public_note,
                "jti": token.jti,
            });
            tx.append_audit(&Self::audit(actor, "certificate.import", &certificate.id, details, now)).await?;
            report.certificates += 1;
        }
        if !report.errors.is_empty() {
            report.errors.sort_by_key(|err| err.row);
            report.entities = 0;
            report.reused_entities = 0;
            report.certificates = 0;
            return Ok(report);
        }
        if commit {
            let details = serde_json::json!({
                "rows": report.rows,
                "entities": report.entities,
                "reused_entities": report.reused_entities,
                "certificates": report.certificates,
                "sha256": hex::encode(Sha256::digest(csv)),
            });
            tx.append_audit(&Self::audit(actor, "register.import", "register", details, now)).await?;
            tx.commit().await?;
            report.committed = true;
        }
        // A dry run ends here: the transaction is dropped and rolls back.
        Ok(report)
    }

    /// A certificate ID no certificate has, checked before the insert: a failed insert would
    /// end a PostgreSQL transaction, and with it the whole import.
    async fn free_certificate_id(&self, tx: &mut Box<dyn Tx>) -> IssuerResult<String> {
        for _attempt in 0..5 {
            let id = ids::new_certificate_id(&mut OsRng);
            if tx.certificate(&id).await?.is_none() {
                return Ok(id);
            }
        }
        Err(IssuerError::Conflict("could not draw a free certificate ID; try again".into()))
    }

    /// The whole register as CSV, one certificate a line with its entity, in the columns the
    /// import reads ([`COLUMNS`]), by entity name and then validity: importing it into an empty
    /// registry gives the same entities and certificates, with the same IDs and numbers. With
    /// `bom`, a UTF-8 byte order mark first, for spreadsheet software that needs one to read
    /// UTF-8. Cells are guarded against formulas (see the module's documentation).
    pub async fn export_register(&self, bom: bool) -> IssuerResult<Vec<u8>> {
        let mut all = Vec::new();
        let mut after = String::new();
        loop {
            let page = self.store.certificates_after(&after, EXPORT_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.certificate.id.clone();
            let done = page.len() < EXPORT_PAGE as usize;
            all.extend(page);
            if done {
                break;
            }
        }
        all.sort_by_cached_key(|detail| {
            (
                name_key(&detail.entity.name),
                detail.entity.id.clone(),
                detail.certificate.valid_from,
                detail.certificate.number.clone(),
            )
        });
        let mut out = Vec::new();
        if bom {
            out.extend_from_slice(BOM);
        }
        let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out);
        writer.write_record(COLUMNS)?;
        for detail in &all {
            writer.write_record(export_line(detail).iter().map(|cell| guard(cell)))?;
        }
        writer.into_inner().map_err(|err| IssuerError::Csv(err.into_error().into()))
    }
}

/// One certificate's line, in the order of [`COLUMNS`].
fn export_line(detail: &CertificateDetail) -> [String; 17] {
    let CertificateDetail { certificate, entity, products, .. } = detail;
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    [
        certificate.number.clone(),
        certificate.id.clone(),
        entity.name.clone(),
        entity.legal_form.clone(),
        text(&entity.nip),
        text(&entity.regon),
        text(&entity.krs),
        text(&entity.city),
        text(&entity.voivodeship),
        entity.domains.join(LIST_SEPARATOR),
        text(&entity.contact),
        products_cell(products),
        format_date(certificate.valid_from),
        format_date(certificate.valid_until),
        certificate.state.as_str().to_owned(),
        text(&certificate.reason),
        text(&certificate.public_note),
    ]
}

/// What no line can know alone: an entity written differently on two lines, a number or an ID
/// given twice.
fn across_lines(rows: &[ImportRow]) -> Vec<RowError> {
    let mut errors = Vec::new();
    let mut entities: HashMap<&str, &ImportRow> = HashMap::new();
    let mut numbers: HashMap<&str, usize> = HashMap::new();
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for row in rows {
        match entities.get(row.key.as_str()) {
            None => {
                entities.insert(row.key.as_str(), row);
            }
            Some(first) => {
                if let Some(column) = differing_column(&first.entity, &row.entity) {
                    let which = match &row.entity.nip {
                        Some(nip) => format!("NIP {nip}"),
                        None => "the same name, no NIP".to_owned(),
                    };
                    let message = format!(
                        "differs from line {} for the same entity ({which}): write an entity the same way on each of its lines",
                        first.row
                    );
                    errors.push(row_error(row.row, column, message));
                }
            }
        }
        if let Some(number) = &row.number {
            if let Some(first) = numbers.get(number.as_str()) {
                errors.push(row_error(
                    row.row,
                    "number",
                    format!("{number} is also the number on line {first}"),
                ));
            } else {
                numbers.insert(number.as_str(), row.row);
            }
        }
        if let Some(id) = &row.id {
            if let Some(first) = ids.get(id.as_str()) {
                errors.push(row_error(row.row, "id", format!("{id} is also the ID on line {first}")));
            } else {
                ids.insert(id.as_str(), row.row);
            }
        }
    }
    errors
}

/// The first column in which two lines of one entity describe it differently.
fn differing_column(a: &EntityRecord, b: &EntityRecord) -> Option<&'static str> {
    [
        ("name", a.name == b.name),
        ("legal_form", a.legal_form == b.legal_form),
        ("nip", a.nip == b.nip),
        ("regon", a.regon == b.regon),
        ("krs", a.krs == b.krs),
        ("city", a.city == b.city),
        ("voivodeship", a.voivodeship == b.voivodeship),
        ("domains", a.domains == b.domains),
        ("contact", a.contact == b.contact),
    ]
    .into_iter()
    .find_map(|(column, same)| (!same).then_some(column))
}

#[cfg(test)]
mod tests {
    use zp_shared::{Rules, Status, verify_status_list};

    use super::*;
    use crate::http::AppState;

    const HEADER: &str = "number,id,name,legal_form,nip,regon,krs,city,voivodeship,domains,contact,products,\
                          valid_from,valid_until,state,reason,note";

    async fn registry() -> (tempfile::TempDir, AppState) {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::http::testing::state(dir.path()).await;
        (dir, state)
    }

    /// A day `days` from `now`, as the file writes it.
    fn day(now: i64, days: i64) -> String {
        format_date(now + days * 86_400)
    }

    fn file(lines: &[String]) -> Vec<u8> {
        let mut text = String::from(HEADER);
        for line in lines {
            text.push_str("\r\n");
            text.push_str(line);
        }
        text.push_str("\r\n");
        text.into_bytes()
    }

    /// The refusals of a report as `(line, column)`.
    fn places(report: &ImportReport) -> Vec<(usize, &str)> {
        report.errors.iter().map(|err| (err.row, err.column.as_str())).collect()
    }

    fn message<'a>(report: &'a ImportReport, row: usize, column: &str) -> &'a str {
        report
            .errors
            .iter()
            .find(|err| err.row == row && err.column == column)
            .map(|err| err.message.as_str())
            .unwrap_or_else(|| panic!("no refusal at line {row}, column {column}: {:?}", report.errors))
    }

    async fn everything(issuer: &Issuer) -> Vec<CertificateDetail> {
        issuer.store.certificates_after("", 10_000).await.unwrap()
    }

    /// Audit entries of each action, in order.
    async fn actions(issuer: &Issuer) -> Vec<String> {
        issuer.store.audit_log(0, 10_000).await.unwrap().into_iter().map(|entry| entry.action).collect()
    }

    /// A register of three entities: two certificates of one (by NIP), one revoked and one
    /// suspended, one with a number of its own, products with GTINs and a name that needs
    /// quoting and escaping.
    fn register(now: i64) -> Vec<u8> {
        let (past, today, soon) = (day(now, -400), day(now, 0), day(now, -30));
        file(&[
            format!(
                "ZP/LU/2023/0001,,\"Spółdzielnia Socjalna \"\"Żółw\"\", Lublin\",social_cooperative,774-000-14-54,,,\
                 Lublin,Lubelskie,zolw.pl; www.sklep-zolw.pl,biuro@zolw.pl,Powidła=5901234123457; Konfitury,{past},,\
                 revoked,misuse,Znak na cudzych produktach"
            ),
            format!(
                ",,\"Spółdzielnia Socjalna \"\"Żółw\"\", Lublin\",social_cooperative,7740001454,,,Lublin,lubelskie,\
                 zolw.pl;sklep-zolw.pl,biuro@zolw.pl,Catering\\; obiady domowe,{today},,,,"
            ),
            format!(
                ",,Fundacja Ćma,foundation,,,,,,cma.org.pl,,Szycie,{soon},{},suspended,,Kontrola",
                day(now, 300)
            ),
        ])
    }

    #[tokio::test]
    async fn a_valid_file_is_checked_then_committed_with_tokens_and_status() {
        let (_dir, state) = registry().await;
        let issuer = &state.issuer;
        let now = state.now();
        let before = actions(issuer).await;

        let dry = issuer.import_register("test", &register(now), false, now).await.unwrap();
        let expected = ImportReport {
            rows: 3,
            entities: 2,
            reused_entities: 0,
            certificates: 3,
            errors: Vec::new(),
            committed: false,
        };
        assert_eq!(dry, expected);
        assert!(everything(issuer).await.is_empty(), "a dry run writes nothing");
        assert_eq!(actions(issuer).await, before);

        let report = issuer.import_register("test", &register(now), true, now).await.unwrap();
        assert_eq!(report, ImportReport { committed: true, ..expected });
        let mut imported = everything(issuer).await;
        imported.sort_by_key(|detail| detail.certificate.status_idx);
        assert_eq!(imported.len(), 3);
        let [revoked, active, suspended] = &imported[..] else { unreachable!() };
        // One entity for the two lines of one NIP, its details as the first line gives them.
        assert_eq!(revoked.entity, active.entity);
        assert_eq!(revoked.entity.name, "Spółdzielnia Socjalna \"Żółw\", Lublin");
        assert_eq!(revoked.entity.nip.as_deref(), Some("7740001454"));
        assert_eq!(revoked.entity.voivodeship.as_deref(), Some("lubelskie"));
        assert_eq!(revoked.entity.domains, ["zolw.pl", "sklep-zolw.pl"]);
        assert_eq!(revoked.certificate.number, "ZP/LU/2023/0001");
        assert_eq!(revoked.certificate.state, CertState::Revoked);
        assert_eq!(revoked.certificate.reason.as_deref(), Some("misuse"));
        assert_eq!(revoked.certificate.public_note.as_deref(), Some("Znak na cudzych produktach"));
        assert_eq!(format_date(revoked.certificate.valid_from), day(now, -400));
        assert_eq!(
            revoked.certificate.valid_until,
            day_start(plus_one_year(date_of(revoked.certificate.valid_from)))
        );
        let names: Vec<(&str, Option<&str>)> =
            revoked.products.iter().map(|p| (p.name.as_str(), p.gtin.as_deref())).collect();
        assert_eq!(names, [("Powidła", Some("05901234123457")), ("Konfitury", None)]);
        // Numbers assigned as `issue` assigns them, by the year of validity.
        let year = date_of(now).year();
        assert_eq!(active.certificate.number, format!("ZP/LU/{year}/0001"));
        assert_eq!(active.products[0].name, "Catering; obiady domowe");
        assert_eq!(active.certificate.state, CertState::Active);
        assert_eq!(suspended.entity.nip, None);
        assert_eq!(suspended.certificate.state, CertState::Suspended);
        assert_eq!(format_date(suspended.certificate.valid_until), day(now, 300));

        // Every certificate has a token signed as `issue` signs them; the status list shows the
        // states at once.
        let keys = issuer.key_set(now).await.unwrap();
        let rules = Rules::new(issuer.settings.base_url.clone());
        let claims = zp_shared::verify(&active.token.as_ref().unwrap().token, &keys, now, &rules)
            .unwrap()
            .into_claims();
        assert_eq!(claims.sub, active.certificate.id);
        assert_eq!(claims.zp.number, active.certificate.number);
        assert_eq!(claims.zp.entity.name, "Spółdzielnia Socjalna \"Żółw\", Lublin");
        assert_eq!(claims.exp, active.certificate.valid_until);
        let (list, _) = issuer.status_list(0, now).await.unwrap().unwrap();
        let list = verify_status_list(&list, &keys, now, &rules, &issuer.status_list_uri(0)).unwrap().list;
        for (detail, status) in
            [(revoked, Status::Revoked), (active, Status::Valid), (suspended, Status::Suspended)]
        {
            assert!(detail.token.is_some(), "a token for every certificate");
            let idx = (detail.certificate.status_idx % STATUS_LIST_SIZE) as u64;
            assert_eq!(list.status(idx).unwrap(), status, "{}", detail.certificate.number);
        }

        let log = actions(issuer).await;
        let added: Vec<&str> = log.iter().skip(before.len()).map(String::as_str).collect();
        assert_eq!(
            added,
            [
                "entity.import",
                "entity.import",
                "certificate.import",
                "certificate.import",
                "certificate.import",
                "register.import"
            ]
        );
    }

    #[tokio::test]
    async fn one_bad_line_commits_nothing_and_every_refusal_is_reported() {
        let (_dir, state) = registry().await;
        let issuer = &state.issuer;
        let now = state.now();
        let today = day(now, 0);
        let before = actions(issuer).await;
        let mut lines = vec![
            format!(",,Spółdzielnia A,social_cooperative,,,,,,a.pl,,Chleb,{today},,,,"),
            // Blank lines count as spreadsheet rows, and are skipped.
            String::new(),
            format!(",,,spoldzielnia,,,,,mazury,,,,{today},{},paused,,", day(now, -1)),
            format!(",,Fundacja B,foundation,,,,,,b.pl,,Szycie=5901234123450,2020-13-01,,revoked,,"),
            format!(",XYZ,Fundacja C,foundation,,,,,,c.pl,,Szycie,{today},,active,misuse,Notatka"),
        ];
        lines.push(format!(",,Fundacja D,foundation,,,,,,d.pl,,Szycie,{today},,,,"));
        let report = issuer.import_register("test", &file(&lines), true, now).await.unwrap();
        assert_eq!(report.rows, 5);
        assert!(!report.committed);
        assert_eq!((report.entities, report.certificates), (0, 0));
        assert_eq!(
            places(&report),
            [
                (4, "name"),
                (4, "legal_form"),
                (4, "domains"),
                (4, "voivodeship"),
                (4, "products"),
                (4, "valid_until"),
                (4, "state"),
                (5, "products"),
                (5, "valid_from"),
                (5, "reason"),
                (6, "reason"),
                (6, "id"),
            ]
        );
        assert_eq!(message(&report, 4, "name"), "must not be empty");
        assert!(message(&report, 4, "legal_form").starts_with("must be one of social_cooperative, "));
        assert_eq!(message(&report, 4, "products"), "list at least one product or service");
        assert_eq!(
            message(&report, 5, "products"),
            "product 1, GTIN: GTIN check digit is 0, the digits before it give 7"
        );
        assert_eq!(message(&report, 5, "valid_from"), "must be a date written YYYY-MM-DD");
        assert!(message(&report, 5, "reason").starts_with("a revoked certificate needs a reason: "));
        assert_eq!(message(&report, 6, "reason"), "only a revoked certificate has a reason");
        assert!(everything(issuer).await.is_empty());
        assert_eq!(actions(issuer).await, before);

        // The dry run finds the same.
        let dry = issuer.import_register("test", &file(&lines), false, now).await.unwrap();
        assert_eq!(dry, report);
        // An end before the start.
        let line = format!(",,Fundacja E,foundation,,,,,,e.pl,,Szycie,{today},{},,,", day(now, -1));
        let report = issuer.import_register("test", &file(&[line]), true, now).await.unwrap();
        assert_eq!(places(&report), [(2, "valid_until")]);
        assert_eq!(message(&report, 2, "valid_until"), format!("must be after valid_from ({today})"));
    }

    #[tokio::test]
    async fn identifier_refusals_name_the_digit_rule() {
        let (_dir, state) = registry().await;
        let now = state.now();
        let today = day(now, 0);
        let line = |nip: &str, regon: &str, krs: &str| {
            format!(",,Spółdzielnia,social_cooperative,{nip},{regon},{krs},,,a.pl,,Chleb,{today},,,,")
        };
        let lines = [
            line("7740001455", "", ""),
            line("1234567890", "", ""),
            line("12345", "", ""),
            line("", "123456786", ""),
            line("", "12345678512346", ""),
            line("", "", "00000000AB"),
            line("", "", "0000000000"),
        ];
        let report = state.issuer.import_register("test", &file(&lines), false, now).await.unwrap();
        let found: Vec<(usize, &str, &str)> =
            report.errors.iter().map(|e| (e.row, e.column.as_str(), e.message.as_str())).collect();
        assert_eq!(
            found,
            [
                (2, "nip", "NIP check digit is 5, the weighted sum gives 4"),
                (3, "nip", "NIP weighted sum leaves remainder 10: no valid NIP has these first nine digits"),
                (4, "nip", "NIP must have 10 digits, it has 5"),
                (5, "regon", "REGON check digit is 6, the weighted sum gives 5"),
                (6, "regon", "REGON check digit is 6, the weighted sum gives 7"),
                (7, "krs", "KRS may contain only digits; character 9 is 'A'"),
                (8, "krs", "KRS of all zeros is not issued"),
            ]
        );
    }

    #[tokio::test]
    async fn numbers_and_ids_are_kept_and_refused_when_taken() {
        let (_dir, state) = registry().await;
        let issuer = &state.issuer;
        let now = state.now();
        let (today, year) = (day(now, 0), date_of(now).year());
        let line = |number: &str, id: &str, name: &str| {
            format!("{number},{id},{name},foundation,,,,,,a.pl,,Chleb,{today},,,,")
        };
        let taken = format!("ZP/LU/{year}/0002");
        let report = issuer
            .import_register("test", &file(&[line(&taken, "7k3qx9m2", "Fundacja A")]), true, now)
            .await
            .unwrap();
        assert!(report.committed, "{:?}", report.errors);
        assert_eq!(everything(issuer).await[0].certificate.id, "7K3QX9M2");
        // `issue` passes over the imported number.
        let entity = everything(issuer).await[0].entity.id.clone();
        let products = vec![NewProduct { name: "Chleb".into(), gtin: None }];
        let issued = issuer
            .issue("test", NewCertificate { entity_id: entity, products, valid_from: None }, now)
            .await
            .unwrap();
        assert_eq!(issued.certificate.number, format!("ZP/LU/{year}/0003"));

        let lines = [
            line("ZP/LU/2024/0100", "", "Fundacja B"),
            line("ZP/LU/2024/0100", "", "Fundacja C"),
            line(&taken, "", "Fundacja D"),
            line("", "7K3QX9M2", "Fundacja E"),
            line("", "ABCDEFGH", "Fundacja F"),
            line("", "abcdefgh", "Fundacja G"),
            line("", "ABC", "Fundacja H"),
        ];
        let report = issuer.import_register("test", &file(&lines), true, now).await.unwrap();
        assert_eq!(places(&report), [(3, "number"), (4, "number"), (5, "id"), (7, "id"), (8, "id")]);
        assert_eq!(message(&report, 3, "number"), "ZP/LU/2024/0100 is also the number on line 2");
        assert_eq!(
            message(&report, 4, "number"),
            format!("{taken} is already the number of certificate 7K3QX9M2 in the registry")
        );
        assert_eq!(message(&report, 5, "id"), "7K3QX9M2 is already a certificate in the registry");
        assert_eq!(message(&report, 7, "id"), "ABCDEFGH is also the ID on line 6");
        assert_eq!(everything(issuer).await.len(), 2);
    }

    #[tokio::test]
    async fn registered_entities_are_reused_by_nip_when_the_names_agree() {
        let (_dir, state) = registry().await;
        let issuer = &state.issuer;
        let now = state.now();
        let today = day(now, 0);
        let entity = NewEntity {
            name: "Spółdzielnia Socjalna Żółw".into(),
            legal_form: "social_cooperative".into(),
            domains: vec!["zolw.pl".into()],
            nip: Some("7740001454".into()),
            ..NewEntity::default()
        };
        let registered = issuer.create_entity("test", entity, now).await.unwrap();
        let line = |name: &str, city: &str| {
            format!(",,{name},social_cooperative,7740001454,,,{city},,inny.pl,,Chleb,{today},,,,")
        };
        let refused =
            issuer.import_register("test", &file(&[line("Spółdzielnia Inna", "")]), true, now).await.unwrap();
        assert_eq!(places(&refused), [(2, "nip")]);
        assert!(message(&refused, 2, "nip").starts_with("is registered to \"Spółdzielnia Socjalna Żółw\""));
        // Lines of one entity must agree with each other, too.
        let lines =
            [line("SPÓŁDZIELNIA socjalna  żółw", "Lublin"), line("SPÓŁDZIELNIA socjalna  żółw", "Chełm")];
        let refused = issuer.import_register("test", &file(&lines), true, now).await.unwrap();
        assert_eq!(places(&refused), [(3, "city")]);
        assert!(
            message(&refused, 3, "city")
                .starts_with("differs from line 2 for the same entity (NIP 7740001454)")
        );

        let lines =
            [line("SPÓŁDZIELNIA socjalna  żółw", "Lublin"), line("SPÓŁDZIELNIA socjalna  żółw", "Lublin")];
        let report = issuer.import_register("test", &file(&lines), true, now).await.unwrap();
        assert_eq!((report.entities, report.reused_entities, report.certificates), (0, 1, 2));
        for detail in everything(issuer).await {
            assert_eq!(detail.entity, registered, "kept as registered");
        }
    }

    #[tokio::test]
    async fn files_with_and_without_bom_and_with_semicolons_read_alike() {
        let (_dir, state) = registry().await;
        let now = state.now();
        let plain = register(now);
        let with_bom = [BOM, &plain[..]].concat();
        let report = state.issuer.import_register("test", &plain, false, now).await.unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(state.issuer.import_register("test", &with_bom, false, now).await.unwrap(), report);
        // As spreadsheet software set to Polish saves it: `;` between cells.
        let mut writer = csv::WriterBuilder::new().delimiter(b';').from_writer(Vec::new());
        for record in csv::ReaderBuilder::new().has_headers(false).from_reader(&plain[..]).records() {
            writer.write_record(&record.unwrap()).unwrap();
        }
        let semicolons = writer.into_inner().unwrap();
        assert!(semicolons.starts_with(b"number;id;name;"));
        assert_eq!(state.issuer.import_register("test", &semicolons, false, now).await.unwrap(), report);
        // A byte order mark in the export only when asked for.
        let export = state.issuer.export_register(true).await.unwrap();
        assert!(export.starts_with(BOM));
        assert!(export[BOM.len()..].starts_with(b"number,id,name,"));
        assert!(state.issuer.export_register(false).await.unwrap().starts_with(b"number,id,name,"));
    }

    /// Every Polish letter, both cases, in every kind of cell, through export and import.
    #[tokio::test]
    async fn polish_letters_survive_export_and_import() {
        let (_dir, state) = registry().await;
        let now = state.now();
        let letters = "ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ";
        let line = format!(
            ",,Spółdzielnia {letters},social_cooperative,,,,Łódź,łódzkie,żółć.pl,Pani Źdźbło,\
             Pierogi {letters}=5901234123457; Gęś,{},,suspended,,Zawieszony: {letters}",
            day(now, 0)
        );
        let report = state.issuer.import_register("test", &file(&[line]), true, now).await.unwrap();
        assert!(report.committed, "{:?}", report.errors);
        let export = state.issuer.export_register(true).await.unwrap();
        let text = std::str::from_utf8(&export[BOM.len()..]).unwrap();
        for expected in [
            format!("Spółdzielnia {letters}"),
            "Łódź,łódzkie,xn--".to_owned(),
            format!("Pierogi {letters}=05901234123457; Gęś"),
            format!("Zawieszony: {letters}"),
            "Pani Źdźbło".to_owned(),
        ] {
            assert!(text.contains(&expected), "{expected:?} in {text}");
        }
        let (_dir2, other) = registry().await;
        let again = other.issuer.import_register("test", &export, true, now).await.unwrap();
        assert!(again.committed, "{:?}", again.errors);
        let detail = &everything(&other.issuer).await[0];
        assert_eq!(detail.entity.name, format!("Spółdzielnia {letters}"));
        assert_eq!(detail.entity.city.as_deref(), Some("Łódź"));
        assert_eq!(detail.entity.contact.as_deref(), Some("Pani Źdźbło"));
        assert_eq!(detail.products[0].name, format!("Pierogi {letters}"));
        assert_eq!(
            detail.certificate.public_note.as_deref(),
            Some(format!("Zawieszony: {letters}").as_str())
        );
        assert_eq!(other.issuer.export_register(true).await.unwrap(), export);
    }

    /// A register made by hand (issue, suspend, revoke, add products) and by import, exported,
    /// imported into an empty registry and exported again: the same file, the same IDs, numbers,
    /// entities, products, dates and states.
    #[tokio::test]
    async fn export_then_import_into_an_empty_registry_round_trips() {
        let (_dir, state) = registry().await;
        let issuer = &state.issuer;
        let now = state.now();
        let entity = NewEntity {
            name: "Centrum Integracji Społecznej w Zamościu".into(),
            legal_form: "cis".into(),
            domains: vec!["cis.zamosc.pl".into(), "sklep.cis.zamosc.pl".into()],
            nip: Some("526-025-09-95".into()),
            regon: Some("950000007".into()),
            krs: Some("0000123456".into()),
            city: Some("Zamość".into()),
            voivodeship: Some("lubelskie".into()),
            contact: Some("+48 84 000 00 00".into()),
        };
        let entity = issuer.create_entity("test", entity, now).await.unwrap();
        let products = vec![
            NewProduct {
                name: "Ławki = ogrodowe; dębowe \\ sosnowe".into(),
                gtin: Some("5901234123457".into()),
            },
            NewProduct { name: "@home: naprawy".into(), gtin: None },
        ];
        let input = NewCertificate { entity_id: entity.id.clone(), products, valid_from: None };
        let first = issuer.issue("test", input, now).await.unwrap().certificate.id;
        let added = [NewProduct { name: "Sprzątanie".into(), gtin: None }];
        issuer.add_products("test", &first, &added, now).await.unwrap();
        let products = vec![NewProduct { name: "Catering".into(), gtin: None }];
        let input = NewCertificate { entity_id: entity.id, products, valid_from: Some(day(now, -100)) };
        let second = issuer.issue("test", input, now).await.unwrap().certificate.id;
        issuer
            .revoke("test", &second, RevocationReason::EntityRequest, Some("-na wniosek".into()), now)
            .await
            .unwrap();
        issuer.import_register("test", &register(now), true, now).await.unwrap();
        let export = issuer.export_register(false).await.unwrap();

        let (_dir2, other) = registry().await;
        let dry = other.issuer.import_register("test", &export, false, now).await.unwrap();
        assert!(dry.errors.is_empty(), "{:?}", dry.errors);
        assert_eq!((dry.rows, dry.entities, dry.certificates), (5, 3, 5));
        let report = other.issuer.import_register("test", &export, true, now).await.unwrap();
        assert!(report.committed);
        assert_eq!(other.issuer.export_register(false).await.unwrap(), export);

        let key = |detail: &CertificateDetail| {
            let mut certificate = detail.certificate.clone();
            certificate.entity_id.clear();
            let mut entity = detail.entity.clone();
            entity.id.clear();
            entity.created_at = 0;
            let products: Vec<(String, Option<String>)> =
                detail.products.iter().map(|p| (p.name.clone(), p.gtin.clone())).collect();
            (
                certificate.id.clone(),
                certificate.number,
                certificate.state,
                certificate.valid_from,
                certificate.valid_until,
                certificate.reason,
                certificate.public_note,
                entity,
                products,
            )
        };
        let mut before: Vec<_> = everything(issuer).await.iter().map(key).collect();
        let mut after: Vec<_> = everything(&other.issuer).await.iter().map(key).collect();
        before.sort_by(|a, b| a.0.cmp(&b.0));
        after.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(after, before);
    }

    #[test]
    fn cells_that_would_start_a_formula_are_guarded_and_read_back() {
        for (value, written) in [
            ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
            ("+48 81 000", "'+48 81 000"),
            ("-5%", "'-5%"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("'=x", "''=x"),
            ("''@x", "'''@x"),
            ("'plain'", "'plain'"),
            ("Żółw", "Żółw"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(guard(value), written, "{value:?}");
            assert_eq!(unguard(written), value, "{written:?}");
        }
    }

    #[tokio::test]
    async fn the_export_guards_formulas_and_the_import_takes_the_guard_away() {
        let (_dir, state) = registry().await;
        let now = state.now();
        let line = format!(
            ",,\"=HYPERLINK(\"\"http://zly.example\"\",\"\"Kliknij\"\")\",foundation,,,,,,a.pl,-1,@Chleb; +Masło,{},,\
             suspended,,=1+1",
            day(now, 0)
        );
        let report = state.issuer.import_register("test", &file(&[line]), true, now).await.unwrap();
        assert!(report.committed, "{:?}", report.errors);
        let export = state.issuer.export_register(false).await.unwrap();
        let mut reader = csv::Reader::from_reader(&export[..]);
        let record = reader.records().next().unwrap().unwrap();
        let cells: Vec<&str> = record.iter().collect();
        assert_eq!(cells[2], "'=HYPERLINK(\"http://zly.example\",\"Kliknij\")");
        assert_eq!(cells[10], "'-1");
        assert_eq!(cells[11], "'@Chleb; +Masło");
        assert_eq!(cells[16], "'=1+1");
        for cell in &cells {
            assert!(!formula_start(cell), "{cell:?} starts a formula");
        }
        let (_dir2, other) = registry().await;
        let again = other.issuer.import_register("test", &export, true, now).await.unwrap();
        assert!(again.committed, "{:?}", again.errors);
        let detail = &everything(&other.issuer).await[0];
        assert_eq!(detail.entity.name, "=HYPERLINK(\"http://zly.example\",\"Kliknij\")");
        assert_eq!(detail.entity.contact.as_deref(), Some("-1"));
        assert_eq!(detail.products[0].name, "@Chleb");
        assert_eq!(detail.products[1].name, "+Masło");
        assert_eq!(detail.certificate.public_note.as_deref(), Some("=1+1"));
    }

    #[test]
    fn products_in_one_cell_escape_their_separators() {
        let products = [
            ProductRecord { name: "Powidła".into(), gtin: Some("05901234123457".into()), added_at: 0 },
            ProductRecord { name: "A=B; C\\D".into(), gtin: None, added_at: 0 },
            ProductRecord { name: "Jam = 2".into(), gtin: Some("05901234123457".into()), added_at: 0 },
        ];
        let cell = products_cell(&products);
        assert_eq!(cell, "Powidła=05901234123457; A\\=B\\; C\\\\D; Jam \\= 2=05901234123457");
        let read: Vec<(String, Option<String>)> =
            parse_products_cell(&cell).into_iter().map(|p| (p.name.trim().to_owned(), p.gtin)).collect();
        let expected: Vec<(String, Option<String>)> =
            products.iter().map(|p| (p.name.clone(), p.gtin.clone())).collect();
        assert_eq!(read, expected);
        // As staff type it: the last `=` before a GTIN, a stray backslash kept, blank items skipped.
        let typed: Vec<(String, Option<String>)> = parse_products_cell("x=y=5901234123457;C:\\dom; ;")
            .into_iter()
            .map(|p| (p.name, p.gtin))
            .collect();
        assert_eq!(
            typed,
            [("x=y".to_owned(), Some("5901234123457".to_owned())), ("C:\\dom".to_owned(), None)]
        );
    }

    #[tokio::test]
    async fn files_too_large_long_or_badly_headed_or_encoded_are_refused() {
        let (_dir, state) = registry().await;
        let issuer = &state.issuer;
        let now = state.now();
        let refused = |result: IssuerResult<ImportReport>| match result {
            Err(IssuerError::Invalid { field, message }) => format!("{field}: {message}"),
            other => panic!("accepted: {other:?}"),
        };
        let big = vec![b'a'; IMPORT_MAX_BYTES + 1];
        assert_eq!(
            refused(issuer.import_register("test", &big, false, now).await),
            format!(
                "file: is {} bytes; an import reads at most {IMPORT_MAX_BYTES} bytes (8 MiB): split the file",
                IMPORT_MAX_BYTES + 1
            )
        );
        let line = format!(",,Fundacja,foundation,,,,,,a.pl,,Chleb,{},,,,", day(now, 0));
        let long = file(&vec![line.clone(); IMPORT_MAX_ROWS + 1]);
        assert_eq!(
            refused(issuer.import_register("test", &long, false, now).await),
            format!(
                "file: has more than {IMPORT_MAX_ROWS} certificate lines (line {}): split the file",
                IMPORT_MAX_ROWS + 2
            )
        );
        assert_eq!(
            refused(issuer.import_register("test", b"", false, now).await),
            "file: is empty: the first line must name the columns"
        );

        let report =
            issuer.import_register("test", b"name,legal_form,nipp,name\r\n", false, now).await.unwrap();
        assert_eq!(
            places(&report),
            [(1, "nipp"), (1, "name"), (1, "domains"), (1, "products"), (1, "valid_from")]
        );
        assert!(
            message(&report, 1, "nipp")
                .starts_with("is not a column of the register; the columns are number, id,")
        );
        assert_eq!(message(&report, 1, "name"), "is in the header twice");
        assert_eq!(message(&report, 1, "domains"), "column is missing from the header (line 1)");

        // Windows-1250, as spreadsheet software saves "CSV" in Poland: ł is 0xB3.
        let mut bad = file(&[line.clone(), line.replace("Fundacja", "Fundacja X")]);
        let at = bad.windows(10).rposition(|w| w == b"Fundacja X").unwrap();
        bad.splice(at..at + 10, b"Fundacja \xB3".iter().copied());
        let report = issuer.import_register("test", &bad, false, now).await.unwrap();
        assert_eq!(places(&report), [(3, "name")]);
        assert_eq!(
            message(&report, 3, "name"),
            "is not UTF-8 text (byte 10): save the file as UTF-8 (\"CSV UTF-8\" in spreadsheet software)"
        );
        // A line with a cell too many or too few.
        let report = issuer.import_register("test", &file(&[format!("{line},x")]), false, now).await.unwrap();
        assert_eq!(places(&report), [(2, "")]);
        assert_eq!(
            report.errors[0].to_string(),
            "line 2: has 18 cells, the header 17: check the separators and quotes"
        );
    }

    /// Lines are numbered as a spreadsheet shows them: a cell over several lines is one row.
    #[tokio::test]
    async fn lines_are_numbered_as_a_spreadsheet_numbers_rows() {
        let (_dir, state) = registry().await;
        let now = state.now();
        let today = day(now, 0);
        let lines = [
            format!(",,\"Fundacja\nw dwóch liniach\",foundation,,,,,,a.pl,,Chleb,{today},,,,"),
            format!(",,Fundacja,foundation,,,,,,a.pl,,Chleb,{today},,zly,,"),
        ];
        let report = state.issuer.import_register("test", &file(&lines), false, now).await.unwrap();
        assert_eq!(places(&report), [(2, "name"), (3, "state")]);
        assert_eq!(message(&report, 2, "name"), "must not contain control characters");
    }
}
