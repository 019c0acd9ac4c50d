//! A small report for tests (the `testing` feature, for the test modules of cis-bench's
//! filters, renderers and diffs): two targets, three sections, four statuses.

use crate::model::{Check, Report, Section, Status, Target, Totals};

fn check(id: &str, status: Status) -> Check {
    Check::new(id, format!("check {id}"), status, true)
}

/// Control plane 1.1.1 pass, 1.1.2 fail, 1.2.1 warn, 1.2.10 fail; worker 4.1.1 warn, 4.1.2 info.
pub fn sample() -> Report {
    let section =
        |id: &str, checks: Vec<Check>| Section { id: id.into(), text: id.into(), totals: Totals::default(), checks };
    let mut report = Report {
        targets: vec![
            Target {
                id: "1".into(),
                kind: "master".into(),
                text: "Control Plane".into(),
                benchmark: "cis-1.10".into(),
                detected_version: None,
                node: None,
                totals: Totals::default(),
                sections: vec![
                    section("1.1", vec![check("1.1.1", Status::Pass), check("1.1.2", Status::Fail)]),
                    section("1.2", vec![check("1.2.1", Status::Warn), check("1.2.10", Status::Fail)]),
                ],
            },
            Target {
                id: "4".into(),
                kind: "node".into(),
                text: "Worker".into(),
                benchmark: "cis-1.10".into(),
                detected_version: None,
                node: None,
                totals: Totals::default(),
                sections: vec![section("4.1", vec![check("4.1.1", Status::Warn), check("4.1.2", Status::Info)])],
            },
        ],
        ..Report::default()
    };
    report.recount();
    report
}
