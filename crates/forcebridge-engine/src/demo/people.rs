//! A deterministic pool of made-up people (names, emails, companies) for demo events.
//!
//! Invariant: person `k` is always the same person, and two people of one pool never share an
//! email address (the index is part of it), so "the same person" in a demo means the same `k`.

use serde::Serialize;

const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "John",
    "Radia",
    "Edsger",
    "Hedy",
    "Tim",
    "Annie",
    "Donald",
    "Shafi",
    "Niklaus",
    "Joan",
    "Guido",
    "Sophie",
    "Bjarne",
    "Lynn",
    "James",
    "Mary",
    "Vint",
    "Jean",
    "Leslie",
    "Carol",
    "Yukihiro",
    "Evelyn",
    "Brian",
    "Ruth",
    "Robin",
    "Anita",
    "Larry",
    "Fran",
    "Bob",
    "Susan",
];

const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Johnson",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Backus",
    "Perlman",
    "Dijkstra",
    "Lamarr",
    "Berners-Lee",
    "Easley",
    "Knuth",
    "Goldwasser",
    "Wirth",
    "Clarke",
    "van Rossum",
    "Wilson",
    "Stroustrup",
    "Conway",
    "Gosling",
    "Keller",
    "Cerf",
    "Bartik",
    "Lamport",
    "Shaw",
    "Matsumoto",
    "Boyd",
    "Kernighan",
    "Teitelbaum",
    "Milner",
    "Borg",
];

const COMPANIES: &[(&str, &str)] = &[
    ("Acme Analytics", "acme-analytics.example"),
    ("Northwind Traders", "northwind.example"),
    ("Globex", "globex.example"),
    ("Initech", "initech.example"),
    ("Umbrella Health", "umbrella-health.example"),
    ("Stark Logistics", "stark-logistics.example"),
    ("Wayne Foods", "wayne-foods.example"),
    ("Hooli Cloud", "hooli.example"),
    ("Vandelay Industries", "vandelay.example"),
    ("Tyrell Systems", "tyrell.example"),
    ("Soylent Labs", "soylent.example"),
    ("Cyberdyne Software", "cyberdyne.example"),
];

const TITLES: &[&str] = &[
    "Solutions Engineer",
    "Developer Advocate",
    "Platform Engineer",
    "Sales Engineer",
    "Engineering Manager",
    "Site Reliability Engineer",
    "Product Manager",
    "Data Engineer",
    "IT Director",
    "Customer Success Manager",
];

/// One made-up person.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub first_name: String,
    pub last_name: String,
    pub name: String,
    pub email: String,
    pub company: String,
    pub title: String,
    pub phone: String,
}

/// Person `k` of the pool (any `k`; the pool's size only decides how often people come back).
pub fn person(k: u64) -> Person {
    let h = super::generate::mix(k ^ 0x05ee_d9e0_b1e5);
    let pick = |list_len: usize, shift: u32| ((h >> shift) % list_len as u64) as usize;
    let first = FIRST[pick(FIRST.len(), 0)];
    let last = LAST[pick(LAST.len(), 16)];
    let (company, domain) = COMPANIES[pick(COMPANIES.len(), 32)];
    let local: String = format!("{first}.{last}")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect::<String>()
        .to_ascii_lowercase();
    Person {
        first_name: first.to_owned(),
        last_name: last.to_owned(),
        name: format!("{first} {last}"),
        email: format!("{local}{k}@{domain}"),
        company: company.to_owned(),
        title: TITLES[pick(TITLES.len(), 48)].to_owned(),
        phone: format!("+1 555 {:03} {:04}", (h >> 8) % 1000, k % 10_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_index_is_the_same_person_and_emails_differ() {
        assert_eq!(person(7).email, person(7).email);
        let emails: std::collections::BTreeSet<String> = (0..500).map(|k| person(k).email).collect();
        assert_eq!(emails.len(), 500);
        assert!(person(3).email.contains('@'));
    }
}
