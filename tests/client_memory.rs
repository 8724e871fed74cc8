//! Memory held by decoded tokens: realistic objects (every property set, refs with links, tags)
//! must stay compact so that tens of thousands fit in tens of MiB.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use terraform_provider_intersight::intersight::models::{IamOAuthToken, Interner};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn time(i: usize, k: usize) -> String {
    let ms = i * 7919 + k * 104_729;
    format!(
        "2024-05-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        1 + ms / 86_400_000 % 28,
        ms / 3_600_000 % 24,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// A token as the API returns it, every property filled.
pub fn realistic_token(i: usize) -> serde_json::Value {
    let moid = format!("{i:024x}");
    let r = |ty: &str, m: &str, coll: &str| {
        serde_json::json!({"ClassId":"mo.MoRef","ObjectType":ty,"Moid":m,
            "link": format!("https://www.intersight.com/api/v1/{coll}/{m}")})
    };
    serde_json::json!({
        "ClassId":"iam.OAuthToken","ObjectType":"iam.OAuthToken","Moid": moid,
        "AccountMoid":"5dee1d736972652d321d26b5","DomainGroupMoid":"5dee1d736972652d321d26b6",
        // Times differ from token to token, as in real data.
        "CreateTime": time(i, 0), "ModTime": time(i, 1),
        "AccessExpirationTime": time(i, 2), "ExpirationTime": time(i, 3),
        "LastLoginTime": time(i, 4), "LastLoginClient":"10.1.2.3",
        "ClientId":"client-0123456789abcdef","ClientIpAddress":"10.1.2.3","ClientName":"Intersight Web UI",
        "TokenId": format!("tok-{i:016}"), "SharedScope":"",
        "Owners":["5dee1d736972652d321d26b5", "5dee1d736972652d321d26b7"],
        "Tags":[{"Key":"site","Value":"london","Type":"KeyValue","SysTag":false,"Propagated":false,"Definition":null,"AncestorDefinitions":[]}],
        "UserMeta":{"ClassId":"iam.ClientMeta","ObjectType":"iam.ClientMeta","DeviceModel":"Mac","UserAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36"},
        "VersionContext":null,
        "User": r("iam.User","5dee1d736972652d321d26c1","iam/Users"),
        "Permission": r("iam.Permission","5dee1d736972652d321d26c2","iam/Permissions"),
        "AppRegistration": r("iam.AppRegistration","5dee1d736972652d321d26c3","iam/AppRegistrations"),
        "Parent": r("iam.User","5dee1d736972652d321d26c1","iam/Users"),
        "Ancestors":[r("iam.User","5dee1d736972652d321d26c1","iam/Users"), r("iam.Account","5dee1d736972652d321d26b5","iam/Accounts")],
        "PermissionResources":[r("organization.Organization","5dee1d736972652d321d26d1","organization/Organizations")],
        "DisplayNames":{"short":[moid.clone()],"hierarchical":[moid]},
    })
}

#[test]
fn twenty_thousand_realistic_tokens_fit_in_tens_of_mib() {
    const N: usize = 20_000;
    // Decode page by page, as the client does, dropping each page's bytes after decoding.
    let before = LIVE.load(Ordering::SeqCst);
    let interner = Interner::new();
    let mut all: Vec<IamOAuthToken> = Vec::with_capacity(N);
    let mut json_bytes = 0;
    for start in (0..N).step_by(1000) {
        let page: Vec<serde_json::Value> = (start..start + 1000).map(realistic_token).collect();
        let bytes = serde_json::to_vec(&page).unwrap();
        drop(page);
        json_bytes += bytes.len();
        let decoded: Vec<IamOAuthToken> = interner.decode(&bytes).unwrap();
        all.extend(decoded);
    }
    drop(interner);
    let held = (LIVE.load(Ordering::SeqCst) - before) as usize;
    let per_object = held / N;
    eprintln!(
        "{N} tokens: {:.1} MiB held ({per_object} bytes each; JSON {} bytes each)",
        held as f64 / (1024.0 * 1024.0),
        json_bytes / N
    );
    assert_eq!(
        all[N - 1].moid.as_deref(),
        Some(format!("{:024x}", N - 1).as_str())
    );
    assert!(all.iter().all(|t| t.additional_properties.is_empty()));
    // 50,000 of them stay within 64 MiB (measured: about 950 bytes each).
    assert!(
        per_object * 50_000 < 64 * 1024 * 1024,
        "{per_object} bytes per token"
    );
}
