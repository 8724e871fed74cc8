//! The one rule tying the results budget (`max_results_mib`) to the gRPC message limits.
//!
//! A read's state is its configuration (it came in a request, so at most
//! [`MAX_DECODING_MESSAGE_SIZE`]) and its `results`, which the budget counts at no less than
//! their encoded size. The largest budget is derived from the message limit so that a read the
//! budget admits always fits in one response, and can never end in gRPC's raw "message length
//! too large" (OUT_OF_RANGE) error, which Terraform shows with no advice.

/// One MiB, the unit of `max_results_mib`.
pub const MIB: usize = 1 << 20;

/// The largest gRPC message the provider accepts from Terraform (configurations, small), as
/// terraform-plugin-go sets it (tonic's default is 4 MiB).
pub const MAX_DECODING_MESSAGE_SIZE: usize = 256 * MIB;

/// The largest gRPC message the provider sends: the most Terraform accepts. Terraform's plugin
/// client (go-plugin) raises grpc-go's receive limit to `math.MaxInt32` bytes, 2 GiB - 1
/// (checked with Terraform 1.0.3 and 1.15: a state of more than 256 MiB is read).
pub const MAX_ENCODING_MESSAGE_SIZE: usize = i32::MAX as usize;

/// Room in a ReadDataSource response for everything but the state's config echo and its
/// `results`: the `id`, the list and map headers, warnings, the protobuf envelope.
pub const RESPONSE_SLACK: usize = MIB;

/// The state in a response may take at most this much, so that the response fits in one gRPC
/// message ([`RESPONSE_SLACK`] is left for the rest of it).
pub const MAX_STATE_BYTES: usize = MAX_ENCODING_MESSAGE_SIZE - RESPONSE_SLACK;

/// `max_results_mib` is offered in steps of this many MiB, so its bound is a round figure.
const BUDGET_STEP_MIB: usize = 256;

/// The largest `max_results_mib` a message limit of `max_encoding` bytes allows: the results
/// and the largest configuration fit in one state, rounded down to a whole step.
pub const fn max_results_mib_for(max_encoding: usize) -> i64 {
    let room = (max_encoding - RESPONSE_SLACK).saturating_sub(MAX_DECODING_MESSAGE_SIZE);
    (room / MIB / BUDGET_STEP_MIB * BUDGET_STEP_MIB) as i64
}

/// The largest `max_results_mib`: derived from [`MAX_ENCODING_MESSAGE_SIZE`] (1536 MiB).
pub const MAX_RESULTS_MIB_LIMIT: i64 = max_results_mib_for(MAX_ENCODING_MESSAGE_SIZE);

/// The default `max_results_mib`: with it, and every other provider setting at its default,
/// the provider's peak memory is meant to stay under 1.5 GiB whatever the server sends and
/// however many reads run at once (it peaks at about twice the budget; four concurrent reads of
/// 400 MB each peaked at 789 MiB: BENCHMARKS.md, "Issue 15: limits under hostile and huge
/// answers").
pub const DEFAULT_MAX_RESULTS_MIB: i64 = 512;

const _: () =
    assert!(1 <= DEFAULT_MAX_RESULTS_MIB && DEFAULT_MAX_RESULTS_MIB <= MAX_RESULTS_MIB_LIMIT);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every read the largest `max_results_mib` admits fits in one response (with its
    /// configuration echoed), and one more step would not.
    #[test]
    fn the_largest_budget_fits_in_one_response_and_the_next_step_would_not() {
        let state = |mib: i64| mib as usize * MIB + MAX_DECODING_MESSAGE_SIZE;
        assert!(state(MAX_RESULTS_MIB_LIMIT) <= MAX_STATE_BYTES);
        assert!(state(MAX_RESULTS_MIB_LIMIT + BUDGET_STEP_MIB as i64) > MAX_STATE_BYTES);
        // Terraform's client takes up to 2 GiB - 1; more than the 256 MiB it had been.
        assert_eq!(MAX_ENCODING_MESSAGE_SIZE, (1 << 31) - 1);
        assert_eq!(MAX_RESULTS_MIB_LIMIT, 1536);
    }

    #[test]
    fn the_budget_bound_follows_the_message_limit() {
        // With grpc-go's former 256 MiB there is no room beside a largest configuration.
        assert_eq!(max_results_mib_for(256 * MIB), 0);
        assert_eq!(max_results_mib_for(1 << 30), 512);
        assert_eq!(max_results_mib_for(4 << 30), 3584);
    }
}
