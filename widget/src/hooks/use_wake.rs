//! A re-render trigger: a handle that fetches call when they complete, and a timer that fires
//! when the verdict can next change by itself (expiry to the second, the status list's `ttl`).

use gloo_timers::callback::Timeout;
use yew::prelude::*;

/// Longest timer a browser keeps exactly (2^31 - 1 ms); later changes wake up in steps.
const MAX_DELAY_MS: i64 = 2_147_483_647;

/// Arms a timer that re-renders the component (through `update`, the component's
/// [`use_force_update`] handle) at the monotonic time `at_ms` (milliseconds, as [`crate::clock`]
/// counts them), and re-arms it after each render that gives another moment or `generation`.
///
/// The timer is given as a moment, not a delay, because it is armed in an effect, which runs
/// after the render: usually at once, but later when the browser defers the rest of a long render
/// (Yew yields to it after 16 ms) or throttles a hidden tab. A delay counted from the render
/// would then fire late by as much, and the badge would stay green past `exp`.
#[hook]
pub fn use_wake(at_ms: Option<i64>, generation: u64, update: UseForceUpdateHandle) {
    // How often the timer has fired: the effect re-arms it after each firing even when the moment
    // is the same (a moment beyond the longest timer is reached in steps).
    let fired = use_mut_ref(|| 0u64);
    let count = *fired.borrow();
    use_effect_with((at_ms, generation, count), move |(at, _, _)| {
        let now_ms = crate::clock().monotonic_ms as i64;
        let timer = at.map(|at| {
            let delay = at.saturating_sub(now_ms).clamp(0, MAX_DELAY_MS);
            Timeout::new(delay as u32, move || {
                *fired.borrow_mut() += 1;
                update.force_update();
            })
        });
        move || drop(timer)
    });
}
