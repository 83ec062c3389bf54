//! The plot of `make chartio-sweep`: req/s against concurrency for each mode, with
//! the ideal line (concurrency / query time), as SVG.
//!
//! ```text
//! chartio-plot [--sleep SECONDS] [--title TEXT] target/chartio/sweep.tsv docs/chartio-sweep.svg
//! ```

use mysqlclient_async_bench::{parse_sweep, SweepRow};
use plotters::prelude::*;

const USAGE: &str = "usage: chartio-plot [--sleep SECONDS] [--title TEXT] SWEEP.tsv OUT.svg";

fn color(mode: &str) -> RGBColor {
    match mode {
        "null" => RGBColor(120, 120, 120),
        "async" => RGBColor(31, 119, 180),
        "per-request" => RGBColor(44, 160, 44),
        "threads" => RGBColor(255, 127, 14),
        "blocking" => RGBColor(214, 39, 40),
        _ => RGBColor(148, 103, 189),
    }
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
    let mut files = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sleep" => sleep = it.next().ok_or(USAGE)?.parse()?,
            "--title" => title = it.next().ok_or(USAGE)?,
            "-h" | "--help" => return Err(USAGE.into()),
            _ => files.push(a),
        }
    }
    let [input, output] = <[String; 2]>::try_from(files).map_err(|_| USAGE)?;
    let rows = parse_sweep(&std::fs::read_to_string(&input)?)?;
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
    // One series per mode, in a fixed order, each sorted by concurrency.
    let order = ["null", "async", "per-request", "threads", "blocking"];
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for r in rows {
        let point = (r.concurrency as f64, r.rps.max(0.1));
        match series.iter_mut().find(|(m, _)| *m == r.mode) {
            Some((_, pts)) => pts.push(point),
            None => series.push((r.mode.clone(), vec![point])),
        }
    }
    let rank = |m: &str| order.iter().position(|o| *o == m).unwrap_or(order.len());
    series.sort_by_key(|(m, _)| rank(m));
    for (_, pts) in &mut series {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let cmin = rows.iter().map(|r| r.concurrency).min().unwrap_or(1).max(1) as f64;
    let cmax = rows.iter().map(|r| r.concurrency).max().unwrap_or(1).max(1) as f64;
    let ideal = |c: f64| if sleep > 0.0 { c / sleep } else { f64::NAN };
    let ymax = rows
        .iter()
        .map(|r| r.rps)
        .chain([ideal(cmax)])
        .filter(|y| y.is_finite())
        .fold(1.0, f64::max);
    let ymin = rows.iter().map(|r| r.rps.max(0.1)).fold(ymax, f64::min);
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
        .x_desc("concurrency (ab -c)")
        .y_desc("requests per second")
        .x_label_formatter(&|x| format!("{x:.0}"))
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
    for (mode, pts) in &series {
        let c = color(mode);
        // `null` (the ceiling) is a wide pale band under the others.
        let width = if mode == "null" { 7 } else { 2 };
        let line = if mode == "null" {
            c.mix(0.45).stroke_width(width)
        } else {
            c.stroke_width(width)
        };
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), line))?
            .label(mode.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], line));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()?;

    // Below: each database mode as a percentage of `null` at the same concurrency
    // (blocking, at ~1/c of null, is off this scale).
    let null_at = |c: f64| {
        series
            .iter()
            .find(|(m, _)| m == "null")
            .and_then(|(_, pts)| pts.iter().find(|p| p.0 == c).map(|p| p.1))
    };
    let pct: Vec<(String, Vec<(f64, f64)>)> = series
        .iter()
        .filter(|(m, _)| m != "null" && m != "blocking")
        .map(|(m, pts)| {
            let v = pts
                .iter()
                .filter_map(|&(c, y)| null_at(c).map(|n| (c, 100.0 * y / n)))
                .collect();
            (m.clone(), v)
        })
        .filter(|(_, v): &(String, Vec<(f64, f64)>)| !v.is_empty())
        .collect();
    let lowest = pct
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.1))
        .fold(100.0f64, f64::min);
    let p0 = (lowest - 2.0).floor().clamp(0.0, 98.0);
    let mut chart = ChartBuilder::on(&bottom)
        .caption("% of null (same concurrency)", ("sans-serif", 16))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(72)
        .build_cartesian_2d((x0..x1).log_scale(), p0..101.0f64)?;
    chart
        .configure_mesh()
        .x_desc("concurrency (ab -c)")
        .y_desc("% of null")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}%"))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    chart.draw_series(DashedLineSeries::new(
        [(x0, 100.0), (x1, 100.0)],
        6,
        4,
        RGBColor(120, 120, 120).stroke_width(1),
    ))?;
    for (mode, pts) in &pct {
        let c = color(mode);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
            .label(mode.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
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
