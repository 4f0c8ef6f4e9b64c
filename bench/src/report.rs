//! Medians, ratios and the table.

/// Whether a bigger figure is better (throughput) or worse (time, bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

/// One row: a workload's median figure per runtime.
pub struct Row {
    pub name: String,
    pub unit: &'static str,
    pub better: Better,
    /// (runtime, median); corio first.
    pub figures: Vec<(&'static str, f64)>,
    /// The target: corio at least `.0` times as good as the peer `.1`
    /// (the peer the target names, or "best": the best peer of the row).
    pub target: Option<(f64, &'static str)>,
    /// The target of corio on its io_uring backend, where the row has one.
    pub uring_target: Option<UringTarget>,
}

/// What corio on io_uring (the `corio-uring` column) must reach.
#[derive(Clone, Copy)]
pub enum UringTarget {
    /// At least `.0` times as good as the peer `.1`.
    Ratio(f64, &'static str),
    /// At most this figure.
    AtMost(f64),
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

impl Row {
    /// corio's advantage over `peer`: > 1 means corio is better.
    /// `peer` "best" means the best peer of the row.
    pub fn ratio_to(&self, peer: &str) -> Option<f64> {
        if peer == "best" {
            return self.ratio().map(|(ratio, _)| ratio);
        }
        let corio = self.figures.iter().find(|(n, _)| *n == "corio")?.1;
        let other = self.figures.iter().find(|(n, _)| *n == peer)?.1;
        Some(match self.better {
            Better::Lower => other / corio,
            Better::Higher => corio / other,
        })
    }

    /// How corio-uring fares against its target, as the table prints it.
    fn uring_verdict(&self) -> Option<String> {
        let figure = |n: &str| {
            self.figures
                .iter()
                .find(|(name, _)| *name == n)
                .map(|f| f.1)
        };
        let uring = figure("corio-uring")?;
        Some(match self.uring_target? {
            UringTarget::Ratio(t, peer) => {
                let other = figure(peer)?;
                let r = match self.better {
                    Better::Lower => other / uring,
                    Better::Higher => uring / other,
                };
                let verdict = if r >= t { "met" } else { "NOT met" };
                format!("corio-uring {r:.2}x vs {peer} (>= {t}x): {verdict}")
            }
            UringTarget::AtMost(max) => {
                let verdict = if uring <= max { "met" } else { "NOT met" };
                format!("corio-uring {} (<= {max}): {verdict}", fmt(uring))
            }
        })
    }

    /// corio's advantage over the best peer: > 1 means corio is better.
    pub fn ratio(&self) -> Option<(f64, &'static str)> {
        let corio = self.figures.iter().find(|(n, _)| *n == "corio")?.1;
        let peers = self.figures.iter().filter(|(n, _)| !n.starts_with("corio"));
        let best = match self.better {
            Better::Lower => peers.min_by(|a, b| a.1.partial_cmp(&b.1).unwrap())?,
            Better::Higher => peers.max_by(|a, b| a.1.partial_cmp(&b.1).unwrap())?,
        };
        let ratio = match self.better {
            Better::Lower => best.1 / corio,
            Better::Higher => corio / best.1,
        };
        Some((ratio, best.0))
    }
}

fn fmt(x: f64) -> String {
    if x >= 100_000.0 {
        format!("{:.0}k", x / 1000.0)
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

pub fn print_table(rows: &[Row]) {
    let runtimes: Vec<&str> = {
        let mut names = Vec::new();
        for row in rows {
            for (n, _) in &row.figures {
                if !names.contains(n) {
                    names.push(*n);
                }
            }
        }
        names
    };
    print!("\n{:<28} {:<14}", "workload", "unit");
    for n in &runtimes {
        print!(" {:>13}", n);
    }
    println!("   {:>22}   target", "corio vs best peer");
    for row in rows {
        print!("{:<28} {:<14}", row.name, row.unit);
        for n in &runtimes {
            match row.figures.iter().find(|(name, _)| name == n) {
                Some((_, v)) => print!(" {:>13}", fmt(*v)),
                None => print!(" {:>13}", "-"),
            }
        }
        match row.ratio() {
            Some((ratio, peer)) => {
                let target = match row.target {
                    Some((t, target_peer)) => match row.ratio_to(target_peer) {
                        Some(r) if r >= t => format!("{r:.2}x vs {target_peer} (>= {t}x): met"),
                        Some(r) => format!("{r:.2}x vs {target_peer} (>= {t}x): NOT met"),
                        None => String::new(),
                    },
                    None => String::new(),
                };
                let uring = row
                    .uring_verdict()
                    .map(|v| format!("; {v}"))
                    .unwrap_or_default();
                println!("   {:>14.2}x ({:<6}) {}{}", ratio, peer, target, uring)
            }
            None => println!(),
        }
    }
    println!(
        "\n(ratio > 1: corio is better; targets are against the peer the issue names; each figure is the \
         median of the runs; runtimes alternate within a run)"
    );
}
