//! The CSV files of recipe jobs read back as a header map and rows of fields (the figures are
//! built from them).

use crate::conventions::{usage, Error};
use std::collections::BTreeMap;
use std::path::Path;

/// A CSV file as a header map and rows of fields.
pub struct Table {
    pub cols: BTreeMap<String, usize>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn read(p: &Path) -> Result<Table, Error> {
        let text = std::fs::read_to_string(p)
            .map_err(|e| usage(format!("cannot read {}: {e}", p.display())))?;
        let mut lines = text.lines();
        let head = lines
            .next()
            .ok_or_else(|| usage(format!("{}: empty", p.display())))?;
        let cols = head
            .split(',')
            .enumerate()
            .map(|(i, c)| (c.to_string(), i))
            .collect();
        let rows = lines
            .map(|l| l.split(',').map(|s| s.to_string()).collect())
            .collect();
        Ok(Table { cols, rows })
    }
    pub fn col(&self, name: &str) -> Result<usize, Error> {
        self.cols
            .get(name)
            .copied()
            .ok_or_else(|| usage(format!("column {name} missing")))
    }
    pub fn f(&self, row: &[String], name: &str) -> Result<f64, Error> {
        let i = self.col(name)?;
        let s = row.get(i).map(|s| s.as_str()).unwrap_or("");
        if s.is_empty() {
            return Ok(f64::NAN);
        }
        s.parse()
            .map_err(|_| usage(format!("column {name}: `{s}` is not a number")))
    }
    pub fn s<'a>(&self, row: &'a [String], name: &str) -> Result<&'a str, Error> {
        let i = self.col(name)?;
        Ok(row.get(i).map(|s| s.as_str()).unwrap_or(""))
    }
}
