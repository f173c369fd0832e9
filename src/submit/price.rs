//! Prices as data, each with its source, and the estimate a budget is checked against.
//!
//! None of the three providers we submit to publishes a per-second USD price for Kling 3.0 Motion
//! Control that we could read (Freepik: "varies by tier and output duration"; Kling bills resource-pack
//! units; GPTProto: not found), so their rows say unknown. A budget still needs a number: unknown
//! prices fall back to a reference range of US$0.10–0.16 per output second (Muapi's published
//! std/pro prices for the same model; fal's $0.126/s falls inside it) and the budget uses the upper
//! end of the range, so `--max-spend` errs on the side of stopping early. `--price-per-second` replaces all of this with the user's contract price.

use super::{ProviderName, Tier};

/// One price row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub provider: &'static str,
    pub tier: Tier,
    /// US dollars per output second, when published.
    pub usd_per_s: Option<f64>,
    pub source: &'static str,
    pub note: &'static str,
}

/// The reference range per output second, used when a provider's price is unknown.
pub const REFERENCE_USD_PER_S: (f64, f64) = (0.10, 0.16);
pub const REFERENCE_SOURCE: &str = "other resellers' published prices for this model (Muapi std $0.10/s, pro $0.16/s; fal std about $0.126/s); pass --price-per-second with your contract price";

pub const PRICES: &[Price] = &[
    Price {
        provider: "freepik",
        tier: Tier::Std,
        usd_per_s: None,
        source: "https://docs.freepik.com/api-reference/video/kling-v3-motion-control/overview",
        note: "\"varies by tier and output duration\"; no figure published",
    },
    Price {
        provider: "freepik",
        tier: Tier::Pro,
        usd_per_s: None,
        source: "https://docs.freepik.com/api-reference/video/kling-v3-motion-control/overview",
        note: "\"varies by tier and output duration\"; no figure published",
    },
    Price {
        provider: "kling",
        tier: Tier::Std,
        usd_per_s: None,
        source: "https://app.klingai.com/global/dev/document-api/apiReference/model/motionControl",
        note: "billed in resource-pack units (final_unit_deduction), no USD figure",
    },
    Price {
        provider: "kling",
        tier: Tier::Pro,
        usd_per_s: None,
        source: "https://app.klingai.com/global/dev/document-api/apiReference/model/motionControl",
        note: "billed in resource-pack units (final_unit_deduction), no USD figure",
    },
    Price {
        provider: "gptproto",
        tier: Tier::Std,
        usd_per_s: None,
        source: "https://gptproto.com/blog/kling-3-0-motion-control-guide",
        note: "no price found in the docs read",
    },
    Price {
        provider: "gptproto",
        tier: Tier::Pro,
        usd_per_s: None,
        source: "https://gptproto.com/blog/kling-3-0-motion-control-guide",
        note: "no price found in the docs read",
    },
    // Not submitted to (yet); kept as the evidence behind the reference range.
    Price {
        provider: "fal",
        tier: Tier::Std,
        usd_per_s: Some(0.126),
        source: "eachlabs.ai/kling/kling-v3/kling-v3-standard-motion-control/llms.txt (third-party mirror)",
        note: "third-party mirror of fal's price",
    },
    Price {
        provider: "muapi",
        tier: Tier::Std,
        usd_per_s: Some(0.10),
        source: "https://muapi.ai/playground/kling-v3.0-pro-motion-control",
        note: "",
    },
    Price {
        provider: "muapi",
        tier: Tier::Pro,
        usd_per_s: Some(0.16),
        source: "https://muapi.ai/playground/kling-v3.0-pro-motion-control",
        note: "",
    },
];

pub fn lookup(provider: ProviderName, tier: Tier) -> Option<&'static Price> {
    PRICES
        .iter()
        .find(|p| p.provider == provider.name() && p.tier == tier)
}

/// The rate a budget is checked against, and how we got it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    pub usd_per_s: f64,
    /// "published", "user" or "reference (price unknown)".
    pub basis: String,
}

pub fn rate(provider: ProviderName, tier: Tier, user: Option<f64>) -> Rate {
    if let Some(u) = user {
        return Rate {
            usd_per_s: u,
            basis: "--price-per-second".into(),
        };
    }
    match lookup(provider, tier).and_then(|p| p.usd_per_s) {
        Some(r) => Rate {
            usd_per_s: r,
            basis: "published price".into(),
        },
        None => Rate {
            usd_per_s: REFERENCE_USD_PER_S.1,
            basis: format!(
                "{provider} {tier} price unknown; upper reference ${:.2}/s from {REFERENCE_SOURCE}",
                REFERENCE_USD_PER_S.1
            ),
        },
    }
}

/// The estimate for one task: the output is about as long as the reference video (the duration cap
/// for the orientation bounds it).
pub fn estimate(rate: &Rate, video_s: f64) -> f64 {
    (rate.usd_per_s * video_s.max(0.0) * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_prices_fall_back_to_the_upper_reference() {
        let r = rate(ProviderName::Freepik, Tier::Std, None);
        assert_eq!(r.usd_per_s, 0.16);
        assert!(r.basis.contains("unknown"));
        assert!(
            !r.basis.contains("SPEC"),
            "users do not have that file: {}",
            r.basis
        );
        assert_eq!(
            rate(ProviderName::Kling, Tier::Pro, Some(0.2)).usd_per_s,
            0.2
        );
        assert_eq!(estimate(&r, 5.0), 0.8);
        for p in PRICES {
            assert!(!p.source.is_empty());
        }
    }
}
