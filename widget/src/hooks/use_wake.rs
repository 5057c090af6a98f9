//! A re-render trigger: a callback that fetches call when they complete, and a timer that fires
//! when the verdict can next change by itself (expiry to the second, the status list's `ttl`).

use gloo_timers::callback::Timeout;
use yew::prelude::*;

/// Longest timer a browser keeps exactly (2^31 - 1 ms); later changes wake up in steps.
const MAX_DELAY_MS: i64 = 2_147_483_647;

/// Returns a callback that re-renders the component, and arms a timer for `after_ms`.
#[hook]
pub fn use_wake(after_ms: Option<i64>, generation: u64) -> Callback<()> {
    let tick = use_state(|| 0u64);
    let wake = {
        let tick = tick.clone();
        use_callback((), move |(), ()| tick.set(tick.wrapping_add(1)))
    };
    {
        let wake = wake.clone();
        use_effect_with((after_ms, generation, *tick), move |(after, _, _)| {
            let timer = after.map(|ms| Timeout::new(ms.clamp(0, MAX_DELAY_MS) as u32, move || wake.emit(())));
            move || drop(timer)
        });
    }
    wake
}
