use super::*;
use crate::credentials::{Credentials, TestRandom};

#[test]
fn spike_writes_a_pdf() {
    let creds = Credentials::issue(17, 42, &mut TestRandom(1)).unwrap();
    let privacy = PrivacyContacts { controller: "Københavns Kommune".into(), contact: "borgerservice@kk.dk".into(), dpo: "dpo@kk.dk".into() };
    let data = HandoutData {
        municipality_name: "København", municipality_code: 101, office: "Borgerservice Nørrebro", desk_label: "Skranke 3",
        applicant_name: "Γεώργιος Παπαδόπουλος", personnummer: "010190-4127", username: &creds.username, password: &creds.password,
        issue_date: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(), reference: "D17-000042", training: true,
        lapse: LapseDays::default(), privacy: &privacy, language: Some("el"),
    };
    let bytes = render_handout(&data).unwrap();
    std::fs::write("/tmp/spike.pdf", &bytes).unwrap();
}
