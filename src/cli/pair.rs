//! `--student` and `--teacher`, the pair of activation specs shared by the commands of a
//! single-index model (concordance, meanfield, train, langevin).

use super::CliError;
use crate::activation::Spec;

/// The student spec and the teacher spec (default: the student), as given.
#[derive(clap::Args, Debug)]
pub struct SpecPair {
    #[arg(long)]
    pub student: String,
    /// Default: the student.
    #[arg(long)]
    pub teacher: Option<String>,
}

impl SpecPair {
    /// The teacher's source text (the student's when absent).
    pub fn teacher_source(&self) -> &str {
        self.teacher.as_deref().unwrap_or(&self.student)
    }

    /// Both specs, each parsed by `parse(source, "student" | "teacher")` (the caller's error
    /// message); the teacher is the student when absent.
    pub fn parse_with(
        &self,
        parse: impl Fn(&str, &str) -> Result<Spec, CliError>,
    ) -> Result<(Spec, Spec), CliError> {
        let student = parse(&self.student, "student")?;
        let teacher = match &self.teacher {
            Some(t) => parse(t, "teacher")?,
            None => student.clone(),
        };
        Ok((student, teacher))
    }
}
