//! # Figures: line plots as SVG and PNG, with their data as CSV
//!
//! A [`Figure`] is a list of named series of (x, y) points with a title and axis labels (the
//! labels carry the units and the conventions: time = steps·η, the loss without ½). [`write`]
//! writes `NAME.csv` (`series,x,y`, numbers in shortest round-trip form: the bytes depend only
//! on the data) and, when a TrueType font is available, `NAME.svg` and `NAME.png` drawn with
//! plotters. Logarithmic axes are drawn as log10 of the data on a linear axis with ticks
//! labelled 10^x; points that are not positive are left out of a logarithmic plot (they stay
//! in the CSV).
//!
//! Fonts: plotters measures text with `ab_glyph`, which needs a font file. None is embedded:
//! [`font`] loads one at run time from `MFORACLE_FONT` or from the usual system paths (DejaVu,
//! Liberation, FreeFont, Noto). Without one, figures are skipped and the reason is recorded in
//! the manifest; the CSV data are written either way. The SVG holds its text as `<text>`
//! elements (no font needed to view it).

use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// One named curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A line plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// File stem: `NAME.csv`, `NAME.svg`, `NAME.png`.
    pub name: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    pub series: Vec<Series>,
}

/// What [`write`] produced for one figure (as listed in the manifest).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Written {
    pub name: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub csv: String,
    pub svg: Option<String>,
    pub png: Option<String>,
}

/// Candidate font files, in order of preference (after `MFORACLE_FONT`).
pub const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/Library/Fonts/Arial.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

static FONT: OnceLock<Result<(), String>> = OnceLock::new();

/// Registers a TrueType font as plotters' "sans-serif" (once per process): Ok when figures
/// can be drawn, or the reason they cannot.
pub fn font() -> Result<(), String> {
    FONT.get_or_init(|| {
        let mut candidates: Vec<String> = Vec::new();
        if let Ok(p) = std::env::var("MFORACLE_FONT") {
            candidates.push(p);
        }
        candidates.extend(FONT_PATHS.iter().map(|s| s.to_string()));
        for p in &candidates {
            if let Ok(bytes) = std::fs::read(p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return Ok(());
                }
            }
        }
        Err("no TrueType font found (set MFORACLE_FONT to a .ttf file, or install fonts-dejavu-core); figures skipped, their CSV data written".into())
    })
    .clone()
}

fn clean(name: &str) -> String {
    name.replace([',', '\n', '"'], ";")
}

/// The CSV of a figure: `series,x,y`, one line per point.
pub fn csv(fig: &Figure) -> String {
    let mut out = String::from("series,x,y\n");
    for s in &fig.series {
        let n = clean(&s.name);
        for (x, y) in &s.points {
            out.push_str(&format!("{n},{x:e},{y:e}\n"));
        }
    }
    out
}

fn tr(v: f64, log: bool) -> Option<f64> {
    if !v.is_finite() {
        return None;
    }
    if log {
        (v > 0.0).then(|| v.log10())
    } else {
        Some(v)
    }
}

fn range(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * hi.abs().max(1.0) {
        let pad = 0.5 * hi.abs().max(1.0);
        return (lo - pad, hi + pad);
    }
    let pad = 0.04 * (hi - lo);
    (lo - pad, hi + pad)
}

fn tick(v: f64, log: bool) -> String {
    let x = if log { 10f64.powf(v) } else { v };
    let a = x.abs();
    if x == 0.0 {
        "0".into()
    } else if !(1e-3..1e4).contains(&a) {
        format!("{x:.1e}")
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    fig: &Figure,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |x: &dyn std::fmt::Display| x.to_string();
    let data: Vec<(String, Vec<(f64, f64)>)> = fig
        .series
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                s.points
                    .iter()
                    .filter_map(|&(x, y)| Some((tr(x, fig.log_x)?, tr(y, fig.log_y)?)))
                    .collect(),
            )
        })
        .collect();
    let (x0, x1) = range(data.iter().flat_map(|s| s.1.iter().map(|p| p.0)));
    let (y0, y1) = range(data.iter().flat_map(|s| s.1.iter().map(|p| p.1)));
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(&fig.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|x| e(&x))?;
    let (lx, ly) = (fig.log_x, fig.log_y);
    let fx = move |v: &f64| tick(*v, lx);
    let fy = move |v: &f64| tick(*v, ly);
    chart
        .configure_mesh()
        .x_desc(&fig.x_label)
        .y_desc(&fig.y_label)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(|x| e(&x))?;
    for (i, (name, pts)) in data.into_iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
            .map_err(|x| e(&x))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    if fig.series.len() > 1 || fig.series.iter().any(|s| !s.name.is_empty()) {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|x| e(&x))?;
    }
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

/// Size of every figure in pixels.
pub const SIZE: (u32, u32) = (800, 560);

/// Writes `NAME.csv` into `dir`, and `NAME.svg`, `NAME.png` when a font is available.
pub fn write(fig: &Figure, dir: &Path) -> Result<Written, String> {
    let csv_name = format!("{}.csv", fig.name);
    let p = dir.join(&csv_name);
    crate::output::write_atomic(&p, csv(fig).as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    let mut out = Written {
        name: fig.name.clone(),
        title: fig.title.clone(),
        x_label: fig.x_label.clone(),
        y_label: fig.y_label.clone(),
        csv: csv_name,
        svg: None,
        png: None,
    };
    if font().is_err() {
        return Ok(out);
    }
    let mut svg = String::new();
    draw(
        SVGBackend::with_string(&mut svg, SIZE).into_drawing_area(),
        fig,
    )
    .map_err(|e| format!("figure {}: {e}", fig.name))?;
    let svg_name = format!("{}.svg", fig.name);
    let p = dir.join(&svg_name);
    crate::output::write_atomic(&p, svg.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    out.svg = Some(svg_name);
    let png_name = format!("{}.png", fig.name);
    let tmp = dir.join(format!(".{png_name}.tmp.png"));
    draw(BitMapBackend::new(&tmp, SIZE).into_drawing_area(), fig)
        .map_err(|e| format!("figure {}: {e}", fig.name))?;
    std::fs::rename(&tmp, dir.join(&png_name))
        .map_err(|e| format!("cannot write {png_name}: {e}"))?;
    out.png = Some(png_name);
    Ok(out)
}
