//! Figures: every one has its title, axis labels and the caption naming the
//! command, and is a self-contained SVG (no external fonts or images).

use shortmem::plot::{self, AttentionPanel, Figure, Legend, Mark, Series};

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The text of every `<text>` element of an SVG, trimmed.
fn texts(svg: &str) -> Vec<String> {
    svg.split("</text>")
        .filter_map(|part| part.rsplit('>').next())
        .map(|t| t.trim().to_string())
        .collect()
}

fn out(name: &str) -> std::path::PathBuf {
    std::env::temp_dir()
        .join(format!("shortmem-plot-test-{}", std::process::id()))
        .join(name)
}

#[test]
fn line_plot_has_title_axes_legend_and_caption() {
    let path = out("lines.svg");
    let fig = Figure::new(
        "Loss against k",
        "context length k (characters)",
        "nats per character",
        "made by: cargo run --bin demo",
    );
    let series = [
        Series::line("first", vec![(0.0, 3.0), (1.0, 2.0), (2.0, 1.5)]).with_mark(Mark::LinePoints),
        Series::line("second", vec![(0.0, 2.5), (2.0, 2.0)]).with_mark(Mark::Dashed),
        Series::reference("a reference", 1.8),
    ];
    plot::lines(&path, &fig, &series).unwrap();
    let svg = read(&path);
    for text in [
        "Loss against k",
        "context length k (characters)",
        "nats per character",
        "made by: cargo run --bin demo",
        "first",
        "second",
        "a reference",
    ] {
        assert!(svg.contains(text), "missing {text:?}");
    }
    assert!(svg.starts_with("<svg"));
    assert!(
        !svg.contains("http://") || svg.matches("http://").all(|_| svg.contains("xmlns")),
        "no external resources"
    );
    // An outside legend and a log axis render too; log ticks show real values.
    let fig = fig.legend(Legend::Outside).log_y();
    let decades = [Series::line("decay", vec![(0.0, 10.0), (1.0, 0.1), (2.0, 0.001)])];
    plot::lines(out("lines_log.svg"), &fig, &decades).unwrap();
    let svg = read(&out("lines_log.svg"));
    let labels = texts(&svg);
    assert!(
        labels.iter().any(|t| t == "0.01") && labels.iter().any(|t| t == "10"),
        "log ticks: {labels:?}"
    );
}

#[test]
fn bars_and_heatmap() {
    let fig = Figure::new("Bars", "kind", "count", "made by: test");
    plot::bars(out("bars.svg"), &fig, &["a".into(), "b".into()], &[1.0, 3.0]).unwrap();
    assert!(read(&out("bars.svg")).contains("Bars"));
    let fig = Figure::new("Attention", "key position", "query position", "made by: test");
    let m = vec![vec![1.0, 0.0], vec![0.3, 0.7]];
    let labels: Vec<String> = vec!["x".into(), "y".into()];
    plot::heatmap(out("heat.svg"), &fig, &m, &labels, &labels, (0.0, 1.0)).unwrap();
    let svg = read(&out("heat.svg"));
    assert!(svg.contains("Attention") && svg.contains("query position"));
    assert!(svg.matches("<rect").count() >= 4, "one cell per value");
}

/// Labels too long to stand side by side under their bars are written beside
/// them, one bar per row, in the order given from the top, so none overlaps.
#[test]
fn bars_with_long_labels_lie_down_one_per_row() {
    let fig = Figure::new("Profile", "", "share (%)", "made by: test");
    let labels: Vec<String> = (0..6)
        .map(|i| format!("a rather long label number {i}"))
        .collect();
    plot::bars(
        out("bars_long.svg"),
        &fig,
        &labels,
        &[30.0, 25.0, 20.0, 15.0, 7.0, 3.0],
    )
    .unwrap();
    let svg = read(&out("bars_long.svg"));
    // The (x, y) at which each label is written.
    let at: Vec<(f64, f64)> = labels
        .iter()
        .map(|l| {
            let end = svg
                .find(l.as_str())
                .unwrap_or_else(|| panic!("no label {l:?} in {:?}", texts(&svg)));
            let tag = &svg[svg[..end].rfind("<text").unwrap()..end];
            let num = |attr: &str| -> f64 {
                let from = tag.find(&format!(" {attr}=\"")).unwrap() + attr.len() + 3;
                tag[from..from + tag[from..].find('"').unwrap()].parse().unwrap()
            };
            (num("x"), num("y"))
        })
        .collect();
    for pair in at.windows(2) {
        assert!(pair[0].1 < pair[1].1, "each label below the one before: {at:?}");
        assert!(
            (pair[0].0 - pair[1].0).abs() < 1.0,
            "labels in one column: {at:?}"
        );
    }
    assert!(svg.contains("share (%)"), "the values' axis is named");
}

/// A causal map of `n` queries: each looks at its first key with weight
/// `1 − b` and spreads `b` evenly over all its keys.
fn causal_map(n: usize, b: f64) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| {
            (0..=i)
                .map(|j| b / (i + 1) as f64 + if j == 0 { 1.0 - b } else { 0.0 })
                .collect()
        })
        .collect()
}

#[test]
fn attention_grid_draws_every_panel_its_marks_and_readable_text() {
    let fig = Figure::new("Every head", "key", "query", "made by: test");
    let panels: Vec<AttentionPanel> = (0..8)
        .map(|h| AttentionPanel {
            title: format!("layer {}, head {}", h / 4 + 1, h % 4 + 1),
            rows: causal_map(64, h as f64 / 8.0),
            marks: vec![(40, 3), (41, 4)],
        })
        .collect();
    plot::attention_grid(out("grid.svg"), &fig, &panels, 4).unwrap();
    let svg = read(&out("grid.svg"));
    let labels = texts(&svg);
    for h in 0..8 {
        let title = format!("layer {}, head {}", h / 4 + 1, h % 4 + 1);
        assert!(labels.contains(&title), "{title} missing");
    }
    assert!(labels.iter().any(|t| t == "Every head") && svg.contains("made by: test"));
    // Two outlined cells per panel: a rectangle with a stroke and no fill.
    assert_eq!(
        svg.matches("fill=\"none\" stroke=\"#56B4E9\"").count(),
        16,
        "the marks"
    );
    let smallest = smallest_text_in_book(&svg);
    assert!(
        smallest >= plot::MIN_TEXT_PX,
        "text of {smallest:.1} px in the book"
    );

    let err = plot::attention_grid(out("no_grid.svg"), &fig, &[], 4).unwrap_err();
    assert!(err.to_string().contains("no_grid.svg"), "{err}");
}

#[test]
fn nothing_to_plot_is_an_error_naming_the_file() {
    let fig = Figure::new("t", "x", "y", "c");
    let err = plot::lines(
        out("empty.svg"),
        &fig,
        &[Series::line("nan", vec![(0.0, f64::NAN)])],
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("empty.svg") && err.to_string().contains("no finite points"),
        "{err}"
    );
}

#[test]
fn heat_colours_run_from_light_to_dark() {
    let light = plot::heat_color(0.0);
    let dark = plot::heat_color(1.0);
    let lum = |c: plotters::style::RGBColor| c.0 as u32 + c.1 as u32 + c.2 as u32;
    assert!(lum(light) > lum(plot::heat_color(0.5)) && lum(plot::heat_color(0.5)) > lum(dark));
}

/// The width of an SVG and every font size it sets, in px.
fn width_and_fonts(svg: &str) -> (f64, Vec<f64>) {
    let attr = |s: &str, name: &str| -> Option<f64> {
        let at = s.find(&format!("{name}=\""))? + name.len() + 2;
        s[at..].split('"').next()?.parse().ok()
    };
    let width = attr(svg, "width").expect("an svg has a width");
    // Every font size the file sets, on text or on the groups around it.
    let fonts = svg
        .split("font-size=\"")
        .skip(1)
        .filter_map(|t| t.split('"').next()?.parse().ok())
        .collect();
    (width, fonts)
}

/// The smallest text of an SVG as the book shows it: shrunk to the column
/// when wider than it.
fn smallest_text_in_book(svg: &str) -> f64 {
    let (width, fonts) = width_and_fonts(svg);
    let shrink = (plot::COLUMN_PX / width).min(1.0);
    fonts.iter().fold(f64::INFINITY, |m, &f| m.min(f * shrink))
}

#[test]
fn every_kind_of_figure_keeps_its_text_readable_at_the_column_width() {
    let fig = Figure::new("Readable", "an x axis", "a y axis", "made by: test");
    let many: Vec<Series> = (0..9)
        .map(|i| {
            Series::line(
                &format!("a series with a long name that wraps onto a second line, number {i}"),
                vec![(0.0, i as f64), (1.0, 2.0 * i as f64)],
            )
        })
        .collect();
    plot::lines(out("read_inside.svg"), &fig, &many[..2]).unwrap();
    plot::lines(
        out("read_outside.svg"),
        &fig.clone().legend(Legend::Outside),
        &many,
    )
    .unwrap();
    plot::bars(
        out("read_bars.svg"),
        &fig,
        &["one".into(), "two".into()],
        &[1.0, 2.0],
    )
    .unwrap();
    for n in [2, 16, 64, 200] {
        let m = vec![vec![0.5; n]; n];
        let labels: Vec<String> = (0..n).map(|i| format!("row label {i}")).collect();
        plot::heatmap(
            out(&format!("read_heat_{n}.svg")),
            &fig,
            &m,
            &labels,
            &labels,
            (0.0, 1.0),
        )
        .unwrap();
    }
    let names = [
        "read_inside",
        "read_outside",
        "read_bars",
        "read_heat_2",
        "read_heat_16",
        "read_heat_64",
        "read_heat_200",
    ];
    for name in names {
        let svg = read(&out(&format!("{name}.svg")));
        let smallest = smallest_text_in_book(&svg);
        assert!(
            smallest >= plot::MIN_TEXT_PX,
            "{name}: text of {smallest:.1} px in the book"
        );
    }
    // Every key of the outside legend is drawn, wrapped or not.
    let svg = read(&out("read_outside.svg"));
    for i in 0..9 {
        assert!(svg.contains(&format!("number {i}")), "key {i} missing");
    }
}

#[test]
fn the_books_figures_keep_their_text_readable_at_the_column_width() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/figures");
    let mut stack = vec![root];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "svg") {
                let smallest = smallest_text_in_book(&read(&path));
                assert!(
                    smallest >= plot::MIN_TEXT_PX,
                    "{}: text of {smallest:.1} px in the book (rerun the chapter that makes it)",
                    path.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no figures found");
}

/// On a log₂ x axis (the roofline) a reference line has no x = 0 to stand at:
/// it is drawn at its height, and the frame reaches up to it. (It used to be
/// drawn along the bottom of the frame, at 0.)
#[test]
fn a_reference_line_on_a_log2_axis_stands_at_its_height() {
    let path = out("log2_reference.svg");
    let fig = Figure::new("Kernels", "n", "GFLOP/s", "made by: test").log2_x();
    let series = [
        Series::line("kernel", vec![(1.0, 10.0), (2.0, 20.0), (8.0, 30.0)]),
        Series::reference("peak", 100.0),
    ];
    plot::lines(&path, &fig, &series).unwrap();
    let labels = texts(&read(&path));
    // The x ticks stop at 8, so a tick of 100 or more is on the y axis.
    let highest = labels
        .iter()
        .filter_map(|t| t.parse::<f64>().ok())
        .fold(0.0, f64::max);
    assert!(
        highest >= 100.0,
        "the y axis stops below the reference line at 100: {labels:?}"
    );
}
