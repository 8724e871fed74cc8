//! `page_decode`'s cost mode: hostile pages built at two sizes, and the CPU-time check
//! that decoding grows at most linearly with them.

use super::page::{arbitrary_api_json, arbitrary_json, check_page, token_decoder, OBJECT_TYPE};
use super::token_source;
use arbitrary::{Result as ArbResult, Unstructured};
use terraform_provider_intersight::intersight::paging::PageDecoder;

/// Where a [`CostCase`] puts its repeated fragment.
#[derive(Debug, Clone, Copy)]
pub enum Place {
    /// A member of the page object itself (skipped by a read).
    Page,
    /// A member of the token the schema does not know (`additional_properties`).
    Unmapped,
    /// A string attribute (`ClientName`).
    MappedString,
    /// A list of strings (`Owners`).
    StringList,
    /// A nested block (`User`, a reference: one related object).
    Block,
    /// A list of blocks (`Tags`).
    BlockList,
    /// A map (`DisplayNames`, through the reference flattening).
    Map,
    /// A member every reference has and a read skips (`link`).
    Skipped,
}

/// How a [`CostCase`] repeats its fragment `n` times.
#[derive(Debug, Clone, Copy)]
pub enum Repeat {
    /// `n` members with distinct names (a wide object).
    Members,
    /// `n` members with the same name.
    Duplicates,
    /// An array of `n` elements.
    Elements,
    /// The fragment inside `n` arrays, or `n` objects (`{"a":…}`), one in the other.
    Nesting { objects: bool },
    /// A string of `n` escapes (the fragment's text, escaped).
    Escapes,
}

/// A page whose size grows with `n` in one way ([`Repeat`]) at one place ([`Place`]), the rest
/// of it generated: the input to [`page_cost`].
#[derive(Debug, Clone)]
pub struct CostCase {
    pub place: Place,
    pub repeat: Repeat,
    /// The repeated JSON fragment.
    pub unit: String,
    /// The token around the place (JSON object text).
    pub token: String,
}

/// Bytes of a cost case's page at the smaller size: big enough that an algorithm quadratic in
/// the repeats stands out (hundreds to thousands of repeats), small enough for thousands of
/// cases a minute.
const COST_BASE_BYTES: usize = 16 * 1024;

/// How much bigger the larger page is.
pub const COST_SCALE: usize = 4;

/// How much more than [`COST_SCALE`] times the time the larger page may take: linear work
/// stays near 1 (fixed costs bring it under), quadratic work heads for [`COST_SCALE`].
pub const COST_SLACK: f64 = 2.0;

pub fn arbitrary_cost_case(u: &mut Unstructured<'_>) -> ArbResult<CostCase> {
    use serde_json::Value as Json;
    let place = *u.choose(&[
        Place::Page,
        Place::Unmapped,
        Place::MappedString,
        Place::StringList,
        Place::Block,
        Place::BlockList,
        Place::Map,
        Place::Skipped,
    ])?;
    let repeat = match u.int_in_range(0..=5)? {
        0 => Repeat::Members,
        1 => Repeat::Duplicates,
        2 => Repeat::Elements,
        3 => Repeat::Nesting { objects: false },
        4 => Repeat::Nesting { objects: true },
        _ => Repeat::Escapes,
    };
    let unit = match u.int_in_range(0..=3)? {
        0 => Json::String(u.choose(&["a\nb", "\u{1F600}", "é\"\\", "x"])?.to_string()),
        1 => Json::from(u.int_in_range(0..=9)?),
        _ => arbitrary_json(u, 2)?,
    };
    let mut token = match arbitrary_api_json(u, &token_source().results_element_type(), 3)? {
        Json::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    token.insert("Moid".into(), Json::from("m"));
    token.insert("ObjectType".into(), Json::from(OBJECT_TYPE));
    Ok(CostCase {
        place,
        repeat,
        unit: unit.to_string(),
        token: Json::Object(token).to_string(),
    })
}

impl CostCase {
    /// The number of repeats that makes the smaller page about [`COST_BASE_BYTES`].
    pub fn base_repeats(&self) -> usize {
        let per_repeat = match self.repeat {
            Repeat::Members | Repeat::Duplicates => self.unit.len() + 10,
            Repeat::Elements => self.unit.len() + 1,
            Repeat::Nesting { objects: false } => 2,
            Repeat::Nesting { objects: true } => 6,
            Repeat::Escapes => 6,
        };
        (COST_BASE_BYTES / per_repeat).clamp(16, 20_000)
    }

    /// The page with the fragment repeated `n` times.
    pub fn page(&self, n: usize) -> String {
        // The members that replace the marker member, or the value that replaces the marker
        // value.
        let members = |n: usize| -> String {
            let mut out = String::new();
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                match self.repeat {
                    Repeat::Duplicates => out.push_str("\"Dup\":"),
                    _ => out.push_str(&format!("\"W{i}\":")),
                }
                out.push_str(&self.unit);
            }
            out
        };
        let value = |n: usize| -> String {
            match self.repeat {
                Repeat::Members | Repeat::Duplicates => format!("{{{}}}", members(n)),
                Repeat::Elements => format!("[{}]", vec![self.unit.as_str(); n].join(",")),
                Repeat::Nesting { objects: false } => "[".repeat(n) + &self.unit + &"]".repeat(n),
                Repeat::Nesting { objects: true } => {
                    "{\"a\":".repeat(n) + &self.unit + &"}".repeat(n)
                }
                Repeat::Escapes => {
                    let escaped = serde_json::to_string(&self.unit).unwrap_or_default();
                    let inner = escaped.trim_matches('"');
                    let mut out = String::from("\"");
                    for i in 0..n {
                        out.push_str(["\\n", "\\u00e9", "\\ud83d\\ude00", "\\\""][i % 4]);
                        if i % 64 == 0 {
                            out.push_str(inner);
                        }
                    }
                    out.push('"');
                    out
                }
            }
        };
        const MEMBER: &str = "\"SimCostMarker\":0";
        const VALUE: &str = "\"SimCostValue\"";
        // Members spread into an object; any other repeat makes one value.
        let spread = matches!(self.repeat, Repeat::Members | Repeat::Duplicates);
        let here = |name: &str| match spread {
            true => MEMBER.to_string(),
            false => format!("\"{name}\":{VALUE}"),
        };
        let token = |inner: String| -> String {
            let open = self.token.trim_end_matches('}');
            let comma = if open.ends_with('{') { "" } else { "," };
            format!("{open}{comma}{inner}}}")
        };
        let (page_member, token_text) = match self.place {
            Place::Page => (format!("{},", here("SimPage")), self.token.clone()),
            Place::Unmapped => (String::new(), token(here("SimCost"))),
            Place::MappedString => (String::new(), token(format!("\"ClientName\":{VALUE}"))),
            Place::StringList => (String::new(), token(format!("\"Owners\":{VALUE}"))),
            Place::Block => (
                String::new(),
                token(format!("\"User\":{{\"Moid\":\"u\",{}}}", here("SimCost"))),
            ),
            Place::BlockList => (String::new(), token(format!("\"Tags\":{VALUE}"))),
            Place::Map => (String::new(), token(format!("\"DisplayNames\":{VALUE}"))),
            Place::Skipped => (
                String::new(),
                token(format!("\"User\":{{\"Moid\":\"u\",\"link\":{VALUE}}}")),
            ),
        };
        let page = format!(
            "{{\"ObjectType\":\"iam.OAuthToken.List\",{page_member}\"Count\":1,\"Results\":[{token_text}]}}"
        );
        // Place-specific values take the repeat as one value; members are spread.
        let page = page.replace(MEMBER, &members(n));
        page.replace(VALUE, &value(n))
    }
}

/// The CPU time `f` takes on this thread: unlike the time on the clock it does not count while
/// another process or test has the CPU, which on a shared machine slows a long run more than a
/// short one (a short one often fits between two switches).
#[cfg(target_os = "linux")]
fn time(f: &dyn Fn()) -> std::time::Duration {
    fn now() -> std::time::Duration {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid timespec to write to; the clock id is a constant Linux has.
        #[allow(unsafe_code)]
        unsafe {
            libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t)
        };
        std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
    }
    let start = now();
    f();
    now().saturating_sub(start)
}

/// How long `f` takes (where there is no per-thread CPU clock to ask).
#[cfg(not(target_os = "linux"))]
fn time(f: &dyn Fn()) -> std::time::Duration {
    let start = std::time::Instant::now();
    f();
    start.elapsed()
}

/// Whether the time of `decode` grows at most linearly from `small` to `large` input (which is
/// [`COST_SCALE`] times bigger): the larger may take [`COST_SLACK`] × [`COST_SCALE`] times as
/// long (CPU time), plus 0.2 ms for timer and cache noise. The two are timed in turns and the
/// fastest run of each counts; a failure is measured again, with more runs, before it is
/// believed (the machine is shared).
pub fn grows_linearly(small: &[u8], large: &[u8], decode: &dyn Fn(&[u8])) -> Result<(), String> {
    let noise = std::time::Duration::from_micros(200);
    let mut last = String::new();
    for (attempt, runs) in [3, 5, 9, 15].into_iter().enumerate() {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(20 * attempt as u64));
        }
        let (mut t_small, mut t_large) = (std::time::Duration::MAX, std::time::Duration::MAX);
        for _ in 0..runs {
            t_small = t_small.min(time(&|| decode(small)));
            t_large = t_large.min(time(&|| decode(large)));
        }
        let bound = t_small.mul_f64(COST_SCALE as f64 * COST_SLACK) + noise;
        if t_large <= bound {
            return Ok(());
        }
        last = format!(
            "{} bytes took {t_small:?}, {} bytes {t_large:?}: more than {:.0}× ({:.1}×)",
            small.len(),
            large.len(),
            COST_SCALE as f64 * COST_SLACK,
            t_large.as_secs_f64() / t_small.as_secs_f64()
        );
    }
    Err(last)
}

/// `page_decode`'s cost property: a page whose hostile part is [`COST_SCALE`] times bigger (more
/// members, elements, levels or escapes) takes at most [`COST_SLACK`] × [`COST_SCALE`] times as
/// long to decode, whatever the shape and place; and the smaller page passes [`check_page`]
/// (the read and the reference agree on it).
pub fn page_cost(data: &[u8]) {
    let Ok(case) = arbitrary_cost_case(&mut Unstructured::new(data)) else {
        return;
    };
    let n = case.base_repeats();
    let small = case.page(n);
    let large = case.page(n * COST_SCALE);
    check_page(small.as_bytes());
    let decoder = token_decoder();
    let cancel = terraform_provider_intersight::intersight::Cancellation::new();
    let decode = |body: &[u8]| {
        let _ = std::hint::black_box(decoder.decode_page(body, usize::MAX, &cancel));
    };
    if let Err(e) = grows_linearly(small.as_bytes(), large.as_bytes(), &decode) {
        panic!("decoding cost grows faster than the page: {e}\ncase: {case:?} (n = {n})");
    }
}
