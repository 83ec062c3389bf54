//! The plot of `make chartio-sweep`: req/s against concurrency (log scales) for each
//! mode — ours, the peers, the `null` ceiling — with the ideal line (concurrency /
//! query time), as SVG. With two load generators in the file (`LOADGEN="ab wrk"`), the
//! second one's lines are dashed; `--loadgen NAME` keeps only one. Runs that completed
//! no request are left out.
//!
//! ```text
//! chartio-plot [--sleep SECONDS] [--title TEXT] [--loadgen ab|wrk] target/chartio/sweep.tsv docs/chartio-sweep.svg
//! ```

use mysqlclient_async_bench::{parse_sweep, SweepRow};
use plotters::prelude::*;

const USAGE: &str =
    "usage: chartio-plot [--sleep SECONDS] [--title TEXT] [--loadgen NAME] SWEEP.tsv OUT.svg";

fn color(mode: &str) -> RGBColor {
    match mode {
        "null" => RGBColor(120, 120, 120),
        "async" => RGBColor(31, 119, 180),
        "per-request" => RGBColor(44, 160, 44),
        "threads" => RGBColor(255, 127, 14),
        "blocking" => RGBColor(214, 39, 40),
        "mysql_async" => RGBColor(227, 119, 194),
        "sqlx" => RGBColor(140, 86, 75),
        _ => RGBColor(148, 103, 189),
    }
}

/// An axis label: a whole number with thousands separators (10,000).
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.round().max(0.0));
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// One line of the plot: a mode measured with one load generator.
struct Series {
    mode: String,
    loadgen: String,
    /// Drawn dashed: not the file's first load generator.
    dashed: bool,
    points: Vec<(f64, f64)>,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("chartio-plot: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut sleep = 1.0f64;
    let mut title = String::new();
    let mut loadgen = None;
    let mut files = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sleep" => sleep = it.next().ok_or(USAGE)?.parse()?,
            "--title" => title = it.next().ok_or(USAGE)?,
            "--loadgen" => loadgen = Some(it.next().ok_or(USAGE)?),
            "-h" | "--help" => return Err(USAGE.into()),
            _ => files.push(a),
        }
    }
    let [input, output] = <[String; 2]>::try_from(files).map_err(|_| USAGE)?;
    let rows: Vec<SweepRow> = parse_sweep(&std::fs::read_to_string(&input)?)?
        .into_iter()
        .filter(|r| r.requests > 0 && r.ok_rps() > 0.0)
        .filter(|r| loadgen.as_ref().is_none_or(|l| *l == r.loadgen))
        .collect();
    if rows.is_empty() {
        return Err(format!("{input}: no data").into());
    }
    plot(&rows, sleep, &title, &output)?;
    eprintln!("chartio-plot: wrote {output}");
    Ok(())
}

fn plot(
    rows: &[SweepRow],
    sleep: f64,
    title: &str,
    output: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    // One series per mode and load generator, in a fixed order (the first load
    // generator in the file first), each sorted by concurrency.
    let order = [
        "null",
        "async",
        "mysql_async",
        "sqlx",
        "per-request",
        "threads",
        "blocking",
    ];
    let mut loadgens: Vec<&str> = Vec::new();
    for r in rows {
        if !loadgens.contains(&r.loadgen.as_str()) {
            loadgens.push(&r.loadgen);
        }
    }
    let several = loadgens.len() > 1;
    let mut series: Vec<Series> = Vec::new();
    for r in rows {
        let point = (r.concurrency as f64, r.ok_rps());
        match series
            .iter_mut()
            .find(|s| s.mode == r.mode && s.loadgen == r.loadgen)
        {
            Some(s) => s.points.push(point),
            None => series.push(Series {
                mode: r.mode.clone(),
                loadgen: r.loadgen.clone(),
                dashed: loadgens.first() != Some(&r.loadgen.as_str()),
                points: vec![point],
            }),
        }
    }
    let rank = |m: &str| order.iter().position(|o| *o == m).unwrap_or(order.len());
    let lg_rank = |l: &str| loadgens.iter().position(|o| *o == l).unwrap_or(0);
    series.sort_by_key(|s| (lg_rank(&s.loadgen), rank(&s.mode)));
    for s in &mut series {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let name = |s: &Series| {
        if several {
            format!("{} ({})", s.mode, s.loadgen)
        } else {
            s.mode.clone()
        }
    };
    let x_desc = format!(
        "concurrency ({})",
        loadgens
            .iter()
            .map(|l| format!("{l} -c"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let cmin = rows.iter().map(|r| r.concurrency).min().unwrap_or(1).max(1) as f64;
    let cmax = rows.iter().map(|r| r.concurrency).max().unwrap_or(1).max(1) as f64;
    let ideal = |c: f64| if sleep > 0.0 { c / sleep } else { f64::NAN };
    let ymax = rows
        .iter()
        .map(|r| r.ok_rps())
        .chain([ideal(cmax)])
        .filter(|y| y.is_finite())
        .fold(1.0, f64::max);
    let ymin = rows.iter().map(|r| r.ok_rps()).fold(ymax, f64::min);
    let (x0, x1) = (cmin / 1.5, cmax * 1.5);
    let (y0, y1) = (ymin / 2.0, ymax * 2.0);

    let root = SVGBackend::new(output, (900, 860)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(580);
    let caption = if title.is_empty() {
        format!("Chartio replication: SELECT SLEEP({sleep}) per request")
    } else {
        format!("Chartio replication: SELECT SLEEP({sleep}) per request ({title})")
    };
    let mut chart = ChartBuilder::on(&top)
        .caption(caption, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?;
    chart
        .configure_mesh()
        .x_desc(x_desc.as_str())
        .y_desc("answered requests per second (error answers left out)")
        .x_label_formatter(&|x| thousands(*x))
        .y_label_formatter(&|y| {
            if *y >= 1.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.1}")
            }
        })
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;

    if sleep > 0.0 {
        let pts: Vec<(f64, f64)> = (0..=40)
            .map(|i| {
                let c = x0 * (x1 / x0).powf(i as f64 / 40.0);
                (c, ideal(c))
            })
            .filter(|&(_, y)| y <= y1)
            .collect();
        chart
            .draw_series(DashedLineSeries::new(pts, 8, 6, BLACK.stroke_width(1)))?
            .label(format!("ideal: c / {sleep} s"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    }
    for s in &series {
        let c = color(&s.mode);
        // `null` (the ceiling) is a wide pale band under the others.
        let width = if s.mode == "null" { 7 } else { 2 };
        let line = if s.mode == "null" {
            c.mix(0.45).stroke_width(width)
        } else {
            c.stroke_width(width)
        };
        let pts = s.points.iter().copied();
        if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(pts, 10, 5, line))?
                .label(name(s))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 8, y)], line));
            chart.draw_series(
                s.points
                    .iter()
                    .map(|&p| Circle::new(p, 4, c.stroke_width(2))),
            )?;
        } else {
            chart
                .draw_series(LineSeries::new(pts, line))?
                .label(name(s))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], line));
            chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()?;

    // Below: each database mode as a percentage of `null` at the same concurrency,
    // with the same load generator (blocking, at ~1/c of null, is off this scale).
    let null_at = |lg: &str, c: f64| {
        series
            .iter()
            .find(|s| s.mode == "null" && s.loadgen == lg)
            .and_then(|s| s.points.iter().find(|p| p.0 == c).map(|p| p.1))
    };
    let pct: Vec<Series> = series
        .iter()
        .filter(|s| s.mode != "null" && s.mode != "blocking")
        .map(|s| Series {
            points: s
                .points
                .iter()
                .filter_map(|&(c, y)| null_at(&s.loadgen, c).map(|n| (c, 100.0 * y / n)))
                .collect(),
            mode: s.mode.clone(),
            loadgen: s.loadgen.clone(),
            dashed: s.dashed,
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    let lowest = pct
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(100.0f64, f64::min);
    let highest = pct
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(100.0f64, f64::max);
    let p0 = (lowest - 2.0).floor().clamp(0.0, 98.0);
    // Above 100% is noise (or a late timer in null): shown, up to 150%.
    let p1 = (highest + 2.0).ceil().clamp(101.0, 150.0);
    let mut chart = ChartBuilder::on(&bottom)
        .caption("% of null (same concurrency)", ("sans-serif", 16))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(72)
        .build_cartesian_2d((x0..x1).log_scale(), p0..p1)?;
    chart
        .configure_mesh()
        .x_desc(x_desc.as_str())
        .y_desc("% of null")
        .x_label_formatter(&|x| thousands(*x))
        .y_label_formatter(&|y| format!("{y:.0}%"))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    chart.draw_series(DashedLineSeries::new(
        [(x0, 100.0), (x1, 100.0)],
        6,
        4,
        RGBColor(120, 120, 120).stroke_width(1),
    ))?;
    for s in &pct {
        let c = color(&s.mode);
        let style = c.stroke_width(2);
        let pts = s.points.iter().copied();
        if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(pts, 10, 5, style))?
                .label(name(s))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 8, y)], style));
            chart.draw_series(
                s.points
                    .iter()
                    .map(|&p| Circle::new(p, 4, c.stroke_width(2))),
            )?;
        } else {
            chart
                .draw_series(LineSeries::new(pts, style))?
                .label(name(s))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()?;
    root.present()?;
    Ok(())
}
