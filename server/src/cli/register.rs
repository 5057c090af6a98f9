//! `zp register`: the whole register from and to CSV, for bringing in an existing regional
//! register and for taking the register into a spreadsheet. The file's columns are in the
//! README and in `issuer/register.rs`.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use super::{Global, cli_actor};
use crate::issuer::{IMPORT_MAX_BYTES, ImportReport};

#[derive(Debug, Subcommand)]
pub enum RegisterCommand {
    /// Check a CSV file of entities and certificates and, with --commit, import it: every line
    /// or none. Prints each refusal as `line N, column C: message`.
    Import(ImportArgs),
    /// Write every certificate with its entity as CSV, in the columns the import reads.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file, UTF-8 with or without a byte order mark.
    pub file: PathBuf,
    /// Write the import; without it, a dry run that checks everything and writes nothing.
    #[arg(long)]
    pub commit: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Begin with a UTF-8 byte order mark, which some spreadsheet software needs to read the
    /// Polish letters right.
    #[arg(long)]
    pub bom: bool,
    /// The file to write (mode 0600: it holds the entities' contacts); it must not exist yet.
    /// Default: standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

pub async fn run(global: &Global, command: RegisterCommand) -> Result<()> {
    match command {
        RegisterCommand::Import(args) => import(global, args).await,
        RegisterCommand::Export(args) => export(global, args).await,
    }
}

async fn import(global: &Global, args: ImportArgs) -> Result<()> {
    let shown = args.file.display();
    let file = std::fs::File::open(&args.file).with_context(|| format!("opening {shown}"))?;
    let size = file.metadata().with_context(|| format!("reading {shown}"))?.len();
    if size > IMPORT_MAX_BYTES as u64 {
        bail!("{shown} is {size} bytes; an import reads at most {IMPORT_MAX_BYTES} bytes: split the file");
    }
    let mut csv = Vec::new();
    // Bounded even if the file grows meanwhile: one byte over is enough for the issuer to refuse.
    file.take(IMPORT_MAX_BYTES as u64 + 1)
        .read_to_end(&mut csv)
        .with_context(|| format!("reading {shown}"))?;
    let issuer = global.open(None).await?;
    let report = issuer.import_register(&cli_actor(), &csv, args.commit, global.clock().now()).await?;
    for error in &report.errors {
        eprintln!("{error}");
    }
    if !report.errors.is_empty() {
        let count = report.errors.len();
        let errors = if count == 1 { "error" } else { "errors" };
        bail!("{shown}: {count} {errors} in {} lines; nothing was imported", report.rows);
    }
    println!("{}", summary(&report));
    Ok(())
}

fn summary(report: &ImportReport) -> String {
    let counts = format!(
        "{} lines: {} certificates, {} new entities, {} entities already registered",
        report.rows, report.certificates, report.entities, report.reused_entities
    );
    if report.committed {
        format!("imported {counts}")
    } else {
        format!("dry run, nothing written; {counts}. Run again with --commit to import")
    }
}

async fn export(global: &Global, args: ExportArgs) -> Result<()> {
    let issuer = global.open(None).await?;
    let csv = issuer.export_register(args.bom).await?;
    match args.output {
        None => std::io::stdout().lock().write_all(&csv).context("writing to standard output"),
        Some(path) => {
            use std::os::unix::fs::OpenOptionsExt;
            let shown = path.display();
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("creating {shown} (it must not exist yet)"))?;
            file.write_all(&csv)
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing {shown}"))?;
            eprintln!("wrote {shown} ({} bytes)", csv.len());
            Ok(())
        }
    }
}
