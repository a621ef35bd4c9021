//! SVG figures for the chapters and the book: line plots (loss curves and any
//! other series), bar charts and heatmaps (attention maps).
//!
//! Every figure has a title, labelled axes and, along its bottom edge, a caption
//! naming the command that made it, so a figure found in the book can always be
//! made again. Only plotters' SVG backend is used: no fonts or system libraries.

use crate::train::History;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt;
use std::path::{Path, PathBuf};

/// Text around a plot.
#[derive(Clone, Debug, Default)]
pub struct Figure {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// The command that made the figure (and the machine, where timing matters).
    pub caption: String,
    /// Plot log₁₀ of y, with ticks labelled by the real values.
    pub log_y: bool,
    /// Plot log₂ of x, with ticks at the powers of two (for distances 1, 2, 4, …).
    pub log2_x: bool,
    /// Where the legend goes (default: upper right).
    pub legend: Legend,
}

/// Corner of the plot that holds the legend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Legend {
    #[default]
    UpperRight,
    UpperLeft,
    LowerRight,
    LowerLeft,
    MiddleRight,
    /// In a strip below the plot, two keys a row: for many or long names.
    Outside,
}

impl Legend {
    fn position(self) -> SeriesLabelPosition {
        match self {
            Legend::UpperRight => SeriesLabelPosition::UpperRight,
            Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
            Legend::LowerRight => SeriesLabelPosition::LowerRight,
            Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
            Legend::MiddleRight | Legend::Outside => SeriesLabelPosition::MiddleRight,
        }
    }
}

impl Figure {
    pub fn new(title: &str, x_label: &str, y_label: &str, caption: &str) -> Self {
        Figure {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            caption: caption.into(),
            log_y: false,
            log2_x: false,
            legend: Legend::UpperRight,
        }
    }

    pub fn log_y(mut self) -> Self {
        self.log_y = true;
        self
    }

    pub fn log2_x(mut self) -> Self {
        self.log2_x = true;
        self
    }

    pub fn legend(mut self, legend: Legend) -> Self {
        self.legend = legend;
        self
    }
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Line,
    Points,
    LinePoints,
    Dashed,
    /// A dashed horizontal reference line at the series' first y value.
    Reference,
}

/// A named list of (x, y) points.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub mark: Mark,
    /// Index into [`PALETTE`]; by default the series' position in the list.
    pub color: Option<usize>,
    /// Error bars: for each point, the half-width drawn above and below it
    /// (for example the standard deviation over seeds).
    pub spread: Option<Vec<f64>>,
}

impl Series {
    pub fn line(name: &str, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
            mark: Mark::Line,
            color: None,
            spread: None,
        }
    }

    /// Error bars of these half-widths, one per point.
    pub fn with_spread(mut self, spread: Vec<f64>) -> Self {
        self.spread = Some(spread);
        self
    }

    pub fn with_mark(mut self, mark: Mark) -> Self {
        self.mark = mark;
        self
    }

    pub fn with_color(mut self, palette_index: usize) -> Self {
        self.color = Some(palette_index);
        self
    }

    /// A horizontal reference line at height `y`.
    pub fn reference(name: &str, y: f64) -> Self {
        Series {
            name: name.into(),
            points: vec![(0.0, y)],
            mark: Mark::Reference,
            color: None,
            spread: None,
        }
    }
}

/// A figure could not be written.
#[derive(Debug)]
pub struct PlotError {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write figure {}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for PlotError {}

/// Distinct colours, readable on white (a colour-blind-safe palette).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
    RGBColor(90, 90, 90),
    RGBColor(240, 228, 66),
];

const WIDTH: u32 = 900;
const HEIGHT: u32 = 540;

/// The width of the book's text column (mdBook's content width): a wider
/// figure is shrunk to it, and its text with it.
pub const COLUMN_PX: f64 = 750.0;
/// The smallest text a figure shows in the book, in px, once shrunk.
pub const MIN_TEXT_PX: f64 = 12.0;
/// plotters' SVG backend writes a font of size s as `font-size` s / 1.24.
const PLOTTERS_FONT_RATIO: f64 = 1.24;

/// The type sizes of one canvas: body text that shows at 13 px in the book's
/// column whatever the canvas's width, and what scales with it.
#[derive(Clone, Copy, Debug)]
struct Type {
    /// The size the text shows at in the SVG itself, in px.
    px: f64,
}

impl Type {
    fn for_width(width: u32) -> Type {
        Type {
            px: (MIN_TEXT_PX + 1.0) * (width as f64 / COLUMN_PX).max(1.0),
        }
    }

    /// A font of `scale` times the body size.
    fn font(&self, scale: f64) -> FontDesc<'static> {
        ("sans-serif", self.px * scale * PLOTTERS_FONT_RATIO).into_font()
    }

    fn body(&self) -> FontDesc<'static> {
        self.font(1.0)
    }

    fn title(&self) -> FontDesc<'static> {
        self.font(1.4)
    }

    /// `n` body heights, in px (for spacing and label areas).
    fn ems(&self, n: f64) -> u32 {
        (self.px * n).ceil() as u32
    }
}

fn err(path: &Path, e: impl fmt::Display) -> PlotError {
    PlotError {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// A plot area and the whole canvas it sits on.
type Canvas<'a> = (
    DrawingArea<SVGBackend<'a>, Shift>,
    DrawingArea<SVGBackend<'a>, Shift>,
);

/// Creates the file's folder, splits off the caption strip and writes the caption.
/// `size` is the plot's, without the caption strip (added below it).
fn canvas<'a>(path: &'a Path, caption: &str, size: (u32, u32), ty: Type) -> Result<Canvas<'a>, PlotError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(path, e))?;
    }
    let strip_height = ty.ems(2.0);
    let root = SVGBackend::new(path, (size.0, size.1 + strip_height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let (plot, strip) = root.split_vertically(size.1);
    strip
        .draw(&Text::new(
            caption.to_string(),
            (10, ty.ems(0.4) as i32),
            ty.body().color(&RGBColor(90, 90, 90)),
        ))
        .map_err(|e| err(path, e))?;
    Ok((plot, root))
}

/// A tick label with as many decimals as the axis span needs.
fn tick(v: f64, span: f64) -> String {
    let decimals = (1.0 - span.max(1e-12).log10().floor()).clamp(0.0, 6.0) as usize;
    format!("{v:.decimals$}")
}

/// The label of a tick at log₁₀ value `v`: powers of ten as 0.01, 1, 100 (or
/// 1e-6 beyond three places), other values with three significant digits.
fn log_tick(v: f64) -> String {
    let x = 10f64.powf(v);
    if (v - v.round()).abs() < 1e-9 {
        let e = v.round() as i32;
        return if (-3..=3).contains(&e) {
            format!("{}", 10f64.powi(e))
        } else {
            format!("1e{e}")
        };
    }
    let decimals = (2 - v.floor() as i32).clamp(0, 12) as usize;
    format!("{x:.decimals$}")
}

/// Range of values with a 5 % margin (and a non-empty span).
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let span = (hi - lo).abs().max(1e-12);
    (lo - 0.05 * span, hi + 0.05 * span)
}

/// Several series on one plot, with a legend.
pub fn lines(path: impl AsRef<Path>, fig: &Figure, series: &[Series]) -> Result<(), PlotError> {
    let path = path.as_ref();
    let ty = |y: f64| if fig.log_y { y.max(1e-300).log10() } else { y };
    let tx = |x: f64| if fig.log2_x { x.log2() } else { x };
    // Every point, and the ends of its error bar, must fit in the frame, and
    // so must the height of a reference line (whose point, at x = 0, has no
    // place on a log axis).
    let heights: Vec<f64> = series
        .iter()
        .filter(|s| s.mark == Mark::Reference)
        .filter_map(|s| s.points.first().map(|p| ty(p.1)))
        .filter(|y| y.is_finite())
        .collect();
    let finite: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| {
            s.points.iter().enumerate().flat_map(move |(i, &(x, y))| {
                let d = s.spread.as_ref().and_then(|d| d.get(i)).copied().unwrap_or(0.0);
                [(x, y - d), (x, y + d)]
            })
        })
        .map(|(x, y)| (tx(x), ty(y)))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if finite.is_empty() {
        return Err(err(path, "no finite points to plot"));
    }
    let x_lo = finite.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x_hi = finite.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let y_lo = finite
        .iter()
        .map(|p| p.1)
        .chain(heights.iter().copied())
        .fold(f64::INFINITY, f64::min);
    let y_hi = finite
        .iter()
        .map(|p| p.1)
        .chain(heights.iter().copied())
        .fold(f64::NEG_INFINITY, f64::max);
    let (x_lo, x_hi) = if x_lo == x_hi {
        (x_lo - 1.0, x_hi + 1.0)
    } else {
        (x_lo, x_hi)
    };
    let (y_lo, y_hi) = padded(y_lo, y_hi);
    let integer_x = finite.iter().all(|p| p.0 == p.0.round()) && x_hi - x_lo <= 64.0;
    let log2_x = fig.log2_x;
    let outside = fig.legend == Legend::Outside;
    let text = Type::for_width(WIDTH);
    let names: Vec<&str> = series
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| !n.is_empty())
        .collect();
    let legend_height = if outside {
        legend_below_height(&names, text)
    } else {
        0
    };
    let (area, root) = canvas(path, &fig.caption, (WIDTH, HEIGHT + legend_height), text)?;
    let (area, legend_area) = area.split_vertically(HEIGHT);
    let mut chart = ChartBuilder::on(&area)
        .caption(&fig.title, text.title())
        .margin(12)
        // Room for the half of the last x tick label that overhangs the axis.
        .margin_right(text.ems(2.0))
        .x_label_area_size(text.ems(3.0))
        .y_label_area_size(text.ems(5.5))
        .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
        .map_err(|e| err(path, e))?;
    let log_y = fig.log_y;
    chart
        .configure_mesh()
        .label_style(text.body())
        .axis_desc_style(text.body())
        .x_desc(&fig.x_label)
        .y_desc(&fig.y_label)
        .x_labels(if integer_x {
            ((x_hi - x_lo) as usize + 1).min(13)
        } else {
            8
        })
        .x_label_formatter(&|v| {
            if log2_x {
                format!("{:.0}", 2f64.powf(*v))
            } else if integer_x {
                format!("{v:.0}")
            } else {
                tick(*v, x_hi - x_lo)
            }
        })
        .y_label_formatter(&|v| {
            if log_y {
                log_tick(*v)
            } else {
                tick(*v, y_hi - y_lo)
            }
        })
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(|e| err(path, e))?;
    let mut keys = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[s.color.unwrap_or(i) % PALETTE.len()];
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|&(x, y)| (tx(x), ty(y)))
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let style = color.stroke_width(2);
        if let Some(spread) = &s.spread {
            let bars = s.points.iter().zip(spread).filter_map(|(&(x, y), &d)| {
                let (x, lo, hi) = (tx(x), ty(y - d), ty(y + d));
                [x, lo, hi]
                    .iter()
                    .all(|v| v.is_finite())
                    .then(|| PathElement::new(vec![(x, lo), (x, hi)], color.stroke_width(2)))
            });
            chart.draw_series(bars).map_err(|e| err(path, e))?;
        }
        let drawn = match s.mark {
            Mark::Reference => {
                // Its height, whatever the x axis (x = 0 has no place on a log axis).
                let y = s.points.first().map_or(f64::NAN, |p| ty(p.1));
                chart.draw_series(DashedLineSeries::new(vec![(x_lo, y), (x_hi, y)], 8, 5, style))
            }
            Mark::Dashed => chart.draw_series(DashedLineSeries::new(pts.clone(), 8, 5, style)),
            Mark::Points => chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled()))),
            Mark::Line => chart.draw_series(LineSeries::new(pts.clone(), style)),
            Mark::LinePoints => {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(|e| err(path, e))?;
                chart.draw_series(LineSeries::new(pts.clone(), style))
            }
        }
        .map_err(|e| err(path, e))?;
        // A series without a name draws no key (e.g. further seeds of one model).
        if s.name.is_empty() {
            continue;
        }
        if !outside {
            drawn
                .label(s.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3)));
        }
        keys.push((s.name.clone(), color, s.mark));
    }
    if outside {
        draw_legend(&legend_area, &keys, text).map_err(|e| err(path, e))?;
    } else {
        chart
            .configure_series_labels()
            .label_font(text.body())
            .position(fig.legend.position())
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(|e| err(path, e))?;
    }
    root.present().map_err(|e| err(path, e))
}

/// Width of the strip that holds a heatmap's colour scale.
fn scale_width(ty: Type) -> u32 {
    45 + ty.ems(3.5)
}

/// A heatmap's colour scale: a vertical bar from `range.0` (bottom) to
/// `range.1` (top), with five labelled ticks.
fn colour_scale<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    range: (f64, f64),
    ty: Type,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (top, height, steps) = (60i32, 200i32, 50);
    for s in 0..steps {
        let t = 1.0 - s as f64 / steps as f64;
        let y0 = top + s * height / steps;
        let y1 = top + (s + 1) * height / steps;
        area.draw(&Rectangle::new([(10, y0), (30, y1)], heat_color(t).filled()))?;
    }
    area.draw(&Rectangle::new(
        [(10, top), (30, top + height)],
        BLACK.stroke_width(1),
    ))?;
    for i in 0..=4 {
        let t = i as f64 / 4.0;
        let y = top + ((1.0 - t) * height as f64) as i32;
        let value = range.0 + t * (range.1 - range.0);
        area.draw(&PathElement::new(vec![(30, y), (35, y)], BLACK.stroke_width(1)))?;
        area.draw(&Text::new(
            // Decimals enough for the step between ticks (0.25, not 0.2).
            tick(value, (range.1 - range.0) / 4.0),
            (38, y - ty.ems(0.5) as i32),
            ty.body(),
        ))?;
    }
    Ok(())
}

/// An outside legend: two columns of keys below the plot.
const LEGEND_COLUMNS: usize = 2;

/// Characters of a key's name per line in a legend column.
fn legend_chars(ty: Type) -> usize {
    // About 0.55 em per character of a sans-serif font, less the key's sample.
    ((WIDTH as f64 / LEGEND_COLUMNS as f64 - 50.0) / (0.55 * ty.px)) as usize
}

/// The height of the legend strip for keys named `names`.
fn legend_below_height(names: &[&str], ty: Type) -> u32 {
    let rows: usize = names
        .chunks(LEGEND_COLUMNS)
        .map(|row| {
            row.iter()
                .map(|n| wrap(n, legend_chars(ty)).len())
                .max()
                .unwrap_or(1)
        })
        .sum();
    ty.ems(1.3) * rows as u32 + ty.ems(0.4) * names.len().div_ceil(LEGEND_COLUMNS) as u32 + ty.ems(0.5)
}

/// A legend drawn in its own strip below the plot, keys in rows of two,
/// long names wrapped.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    keys: &[(String, RGBColor, Mark)],
    ty: Type,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let font = ty.body();
    let (line, mid) = (ty.ems(1.3) as i32, ty.ems(0.5) as i32);
    let column = WIDTH as i32 / LEGEND_COLUMNS as i32;
    let mut y = ty.ems(0.2) as i32;
    for row in keys.chunks(LEGEND_COLUMNS) {
        let mut tallest = 1;
        for (c, (name, color, mark)) in row.iter().enumerate() {
            let x = 20 + c as i32 * column;
            let sample = |x0: i32, x1: i32| {
                PathElement::new(vec![(x + x0, y + mid), (x + x1, y + mid)], color.stroke_width(3))
            };
            match mark {
                Mark::Points => area.draw(&Circle::new((x + 15, y + mid), 4, color.filled()))?,
                Mark::Dashed | Mark::Reference => {
                    area.draw(&sample(0, 10))?;
                    area.draw(&sample(16, 26))?;
                }
                _ => area.draw(&sample(0, 26))?,
            }
            let lines = wrap(name, legend_chars(ty));
            for (i, text) in lines.iter().enumerate() {
                area.draw(&Text::new(
                    text.clone(),
                    (x + 34, y + i as i32 * line),
                    font.clone(),
                ))?;
            }
            tallest = tallest.max(lines.len());
        }
        y += tallest as i32 * line + ty.ems(0.4) as i32;
    }
    Ok(())
}

/// Splits text into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("never empty");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

/// Training loss (every step, lightly smoothed) and validation loss against step.
pub fn loss_curves(path: impl AsRef<Path>, fig: &Figure, history: &History) -> Result<(), PlotError> {
    let train = smooth(&history.train, 25);
    let val = history.val.iter().map(|&(s, l)| (s as f64, l)).collect();
    lines(
        path,
        fig,
        &[
            Series::line("train (moving mean of 25 steps)", train),
            Series::line("validation", val).with_mark(Mark::LinePoints),
        ],
    )
}

/// A trailing moving mean over `window` points.
pub fn smooth(points: &[(usize, f64)], window: usize) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len());
    let mut sum = 0.0;
    for (i, &(x, y)) in points.iter().enumerate() {
        sum += y;
        if i >= window {
            sum -= points[i - window].1;
        }
        out.push((x as f64, sum / (i + 1).min(window) as f64));
    }
    out
}

/// One bar per label: upright, labels underneath, or lying down with the
/// labels beside them when the labels are too long to stand side by side. The
/// figure's `y_label` names the values, its `x_label` the labels.
pub fn bars(
    path: impl AsRef<Path>,
    fig: &Figure,
    labels: &[String],
    values: &[f64],
) -> Result<(), PlotError> {
    let path = path.as_ref();
    assert_eq!(
        labels.len(),
        values.len(),
        "bars: {} labels for {} values",
        labels.len(),
        values.len()
    );
    let hi = values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let lo = values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::min);
    let ty = Type::for_width(WIDTH);
    let (area, root) = canvas(path, &fig.caption, (WIDTH, HEIGHT), ty)?;
    let n = labels.len();
    // Labels that would not fit side by side under their bars (more than 80
    // characters in all) go beside them instead: one bar per row, first on top.
    if labels.iter().map(|l| l.chars().count()).sum::<usize>() > 80 {
        let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let mut chart = ChartBuilder::on(&area)
            .caption(&fig.title, ty.title())
            .margin(12)
            .x_label_area_size(ty.ems(3.0))
            .y_label_area_size(ty.ems(0.55 * longest as f64 + 1.0))
            .build_cartesian_2d(lo..hi * 1.1 + 1e-12, -0.5..n as f64 - 0.5)
            .map_err(|e| err(path, e))?;
        let names = labels.to_vec();
        chart
            .configure_mesh()
            .label_style(ty.body())
            .axis_desc_style(ty.body())
            .x_desc(&fig.y_label)
            .y_desc(&fig.x_label)
            .y_labels(n.min(40))
            .y_label_formatter(&|&y| bar_label(&names, y, true))
            .disable_y_mesh()
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| err(path, e))?;
        chart
            .draw_series(values.iter().enumerate().map(|(i, &v)| {
                let row = (n - 1 - i) as f64;
                Rectangle::new([(0.0, row - 0.35), (v, row + 0.35)], PALETTE[0].filled())
            }))
            .map_err(|e| err(path, e))?;
        return root.present().map_err(|e| err(path, e));
    }
    let mut chart = ChartBuilder::on(&area)
        .caption(&fig.title, ty.title())
        .margin(12)
        .x_label_area_size(ty.ems(3.0))
        .y_label_area_size(ty.ems(5.5))
        .build_cartesian_2d(-0.5..n as f64 - 0.5, lo..hi * 1.1 + 1e-12)
        .map_err(|e| err(path, e))?;
    let names = labels.to_vec();
    chart
        .configure_mesh()
        .label_style(ty.body())
        .axis_desc_style(ty.body())
        .x_desc(&fig.x_label)
        .y_desc(&fig.y_label)
        .x_labels(n.min(40))
        .x_label_formatter(&|&x| bar_label(&names, x, false))
        .disable_x_mesh()
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(|e| err(path, e))?;
    chart
        .draw_series(values.iter().enumerate().map(|(i, &v)| {
            Rectangle::new(
                [(i as f64 - 0.35, 0.0), (i as f64 + 0.35, v)],
                PALETTE[0].filled(),
            )
        }))
        .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))
}

/// A colour for t ∈ [0, 1]: from pale yellow (0) through orange to dark purple (1).
pub fn heat_color(t: f64) -> RGBColor {
    const STOPS: [(f64, (f64, f64, f64)); 4] = [
        (0.0, (255.0, 252.0, 230.0)),
        (0.35, (253.0, 174.0, 97.0)),
        (0.7, (215.0, 48.0, 39.0)),
        (1.0, (70.0, 10.0, 90.0)),
    ];
    let t = t.clamp(0.0, 1.0);
    let k = STOPS.windows(2).position(|w| t <= w[1].0).unwrap_or(2);
    let ((t0, a), (t1, b)) = (STOPS[k], STOPS[k + 1]);
    let u = (t - t0) / (t1 - t0);
    let mix = |x: f64, y: f64| (x + u * (y - x)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A matrix as coloured cells (row 0 at the top), e.g. attention weights with
/// queries as rows and keys as columns. Colours span `range` (min, max).
pub fn heatmap(
    path: impl AsRef<Path>,
    fig: &Figure,
    values: &[Vec<f64>],
    row_labels: &[String],
    col_labels: &[String],
    range: (f64, f64),
) -> Result<(), PlotError> {
    let path = path.as_ref();
    let rows = values.len();
    let cols = values.first().map_or(0, |r| r.len());
    assert!(
        row_labels.len() == rows && col_labels.len() == cols,
        "heatmap: {rows}×{cols} values with {} row and {} column labels",
        row_labels.len(),
        col_labels.len()
    );
    // Square cells, as large as fit in about 600×520 (so that the whole
    // figure stays near the column's width), never smaller than 6 px; room on
    // the left for the longest row label. The type follows the final width.
    let cell = (600 / cols.max(1)).min(520 / rows.max(1)).clamp(6, 48) as u32;
    let longest = row_labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as f64;
    let layout = |ty: Type| {
        let label_width = ty.ems(2.5 + 0.6 * longest);
        let grid_width = cell * cols as u32 + label_width + 40;
        (label_width, grid_width, grid_width + scale_width(ty))
    };
    // The type grows with the width and the label strip with the type:
    // iterate to the fixed point (it settles in a few steps for row labels of
    // up to about 80 characters; beyond that the strip outgrows the type).
    let mut ty = Type::for_width(COLUMN_PX as u32);
    for _ in 0..8 {
        let next = Type::for_width(layout(ty).2);
        if next.px <= ty.px {
            break;
        }
        ty = next;
    }
    let (label_width, grid_width, width) = layout(ty);
    // Tall enough for the colour scale (60 px down, 200 px tall, its last label).
    let size = (width, (cell * rows as u32 + ty.ems(6.5)).max(300));
    let (area, root) = canvas(path, &fig.caption, size, ty)?;
    let (area, scale_area) = area.split_horizontally(grid_width);
    colour_scale(&scale_area, range, ty).map_err(|e| err(path, e))?;
    let mut chart = ChartBuilder::on(&area)
        .caption(&fig.title, ty.title())
        .margin(10)
        .x_label_area_size(ty.ems(3.0))
        .y_label_area_size(label_width)
        .build_cartesian_2d(0.0..cols as f64, rows as f64..0.0)
        .map_err(|e| err(path, e))?;
    // A label closer than `room` px to the last one kept is left out (labels
    // the caller left empty do not count).
    let thin = |labels: &[String], room: f64| {
        let k = (room / cell as f64).ceil().max(1.0) as usize;
        let mut last: Option<usize> = None;
        labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                if l.is_empty() || last.is_some_and(|j| i - j < k) {
                    return String::new();
                }
                last = Some(i);
                l.clone()
            })
            .collect::<Vec<_>>()
    };
    let longest_col = col_labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as f64;
    let rl = thin(row_labels, 1.3 * ty.px);
    let cl = thin(col_labels, 0.6 * ty.px * longest_col + 8.0);
    let label = |names: &[String], v: f64| {
        let i = v.floor();
        if (v - i - 0.5).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
            names[i as usize].clone()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .label_style(ty.body())
        .axis_desc_style(ty.body())
        .x_desc(&fig.x_label)
        .y_desc(&fig.y_label)
        .x_labels(2 * cols + 1)
        .y_labels(2 * rows + 1)
        .x_label_formatter(&|v| label(&cl, *v))
        .y_label_formatter(&|v| label(&rl, *v))
        .draw()
        .map_err(|e| err(path, e))?;
    let span = (range.1 - range.0).max(1e-12);
    chart
        .draw_series(values.iter().enumerate().flat_map(|(i, row)| {
            row.iter().enumerate().map(move |(j, &v)| {
                let c = heat_color((v - range.0) / span);
                Rectangle::new(
                    [(j as f64, i as f64), (j as f64 + 1.0, i as f64 + 1.0)],
                    c.filled(),
                )
            })
        }))
        .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))
}

/// One panel of [`attention_grid`]: a title and a causal attention map, row
/// `i` holding the weights of query `i` on keys `0..=i`.
#[derive(Clone, Debug)]
pub struct AttentionPanel {
    pub title: String,
    pub rows: Vec<Vec<f64>>,
    /// Cells (query, key) to outline: the key that holds the right answer.
    pub marks: Vec<(usize, usize)>,
}

/// Shades a cell takes in [`attention_grid`]: weights are drawn in steps of
/// 1/20, and neighbouring cells of one step share one rectangle (which keeps
/// the file small).
const GRID_SHADES: f64 = 20.0;

/// Causal attention maps side by side, `columns` panels a row (e.g. one row
/// per layer, one panel per head), with one colour scale for the weights
/// (0 to 1). Above the diagonal (the masked future) is grey. The figure's
/// `x_label` and `y_label` go under the title, once for all panels.
pub fn attention_grid(
    path: impl AsRef<Path>,
    fig: &Figure,
    panels: &[AttentionPanel],
    columns: usize,
) -> Result<(), PlotError> {
    let path = path.as_ref();
    if panels.is_empty() || columns == 0 {
        return Err(err(
            path,
            "an attention grid needs at least one panel and one column",
        ));
    }
    let grid_rows = panels.len().div_ceil(columns);
    let width = 1100u32;
    let ty = Type::for_width(width);
    let panel_width = (width - scale_width(ty)) / columns as u32;
    let heading = ty.ems(4.0);
    let size = (width, heading + grid_rows as u32 * panel_width);
    let (area, root) = canvas(path, &fig.caption, size, ty)?;
    let (top, body) = area.split_vertically(heading);
    top.draw(&Text::new(
        fig.title.clone(),
        (10, ty.ems(0.3) as i32),
        ty.title(),
    ))
    .map_err(|e| err(path, e))?;
    let axes = format!("{}; {}", fig.y_label, fig.x_label);
    top.draw(&Text::new(axes, (10, ty.ems(2.2) as i32), ty.body()))
        .map_err(|e| err(path, e))?;
    let (grid, scale_area) = body.split_horizontally(panel_width * columns as u32);
    colour_scale(&scale_area, (0.0, 1.0), ty).map_err(|e| err(path, e))?;
    let cells = grid.split_evenly((grid_rows, columns));
    for (panel, cell) in panels.iter().zip(&cells) {
        attention_panel(cell, panel, ty).map_err(|e| err(path, e))?;
    }
    root.present().map_err(|e| err(path, e))
}

/// One panel of [`attention_grid`]: the masked triangle in grey, the weights
/// as runs of equally shaded cells, the marked cells outlined.
fn attention_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &AttentionPanel,
    ty: Type,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let n = panel.rows.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ty.body())
        .margin(ty.ems(0.5))
        .x_label_area_size(ty.ems(1.6))
        .y_label_area_size(ty.ems(2.2))
        .build_cartesian_2d(0.0..n, n..0.0)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .label_style(ty.body())
        .x_labels(4)
        .y_labels(4)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    // The whole square in the colour of weight 0, the masked future (the
    // cells right of the diagonal) as one grey staircase over it.
    chart.draw_series([Rectangle::new([(0.0, 0.0), (n, n)], heat_color(0.0).filled())])?;
    let mut stairs = vec![(1.0, 0.0), (n, 0.0), (n, n - 1.0)];
    for i in (1..panel.rows.len()).rev() {
        stairs.extend([
            (i as f64 + 1.0, i as f64),
            (i as f64, i as f64),
            (i as f64, i as f64 - 1.0),
        ]);
    }
    chart.draw_series([Polygon::new(stairs, RGBColor(225, 225, 225).filled())])?;
    let shade = |w: f64| (w.clamp(0.0, 1.0) * GRID_SHADES).round() as usize;
    let mut shapes = Vec::new();
    for (i, row) in panel.rows.iter().enumerate() {
        let y = i as f64;
        // Runs of cells that share a shade (the pale shade 0 is the background).
        let mut j = 0;
        while j < row.len() {
            let s = shade(row[j]);
            let end = (j..row.len()).find(|&k| shade(row[k]) != s).unwrap_or(row.len());
            if s > 0 {
                let c = heat_color(s as f64 / GRID_SHADES);
                shapes.push(Rectangle::new([(j as f64, y), (end as f64, y + 1.0)], c.filled()));
            }
            j = end;
        }
    }
    chart.draw_series(shapes)?;
    let mark = PALETTE[4].stroke_width(2);
    chart.draw_series(
        panel
            .marks
            .iter()
            .map(|&(q, k)| Rectangle::new([(k as f64, q as f64), (k as f64 + 1.0, q as f64 + 1.0)], mark)),
    )?;
    Ok(())
}

/// The name of the bar at axis position `at` (bar i sits at i, or, counted
/// from the top, at n − 1 − i), or nothing between bars.
fn bar_label(names: &[String], at: f64, from_top: bool) -> String {
    let i = at.round();
    if (at - i).abs() > 1e-6 || i < 0.0 || i as usize >= names.len() {
        return String::new();
    }
    let i = i as usize;
    names[if from_top { names.len() - 1 - i } else { i }].clone()
}
