use crate::error::Result;
use std::path::Path;

#[derive(clap::Args)]
pub struct Args {
    /// Output format: table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Print only the ids
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn exec(root: &Path, a: Args) -> Result<i32> {
    let all = crate::container::list(root)?;
    if a.quiet {
        for (s, _) in &all {
            crate::outln!("{}", s.id);
        }
        return Ok(0);
    }
    match a.format.as_str() {
        "json" => {
            let v: Vec<_> = all.iter().map(|(s, st)| s.to_oci(*st)).collect();
            crate::outln!("{}", serde_json::Value::Array(v));
        }
        "table" => {
            let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from).to_vec()];
            for (s, st) in &all {
                let pid = if matches!(st, crate::container::state::Status::Stopped) { 0 } else { s.pid };
                rows.push(vec![
                    s.id.clone(),
                    pid.to_string(),
                    st.as_str().into(),
                    s.bundle.display().to_string(),
                    s.created.clone(),
                    s.owner.clone(),
                ]);
            }
            crate::out!("{}", crate::utils::table(&rows));
        }
        f => crate::bail!("--format: unknown format {f:?} (table or json)"),
    }
    Ok(0)
}
