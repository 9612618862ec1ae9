// The one way a change set from elsewhere enters a store (handover import, enrolment, and next
// the online pull and the server's push handler): every change set admitted, stored and judged
// in one transaction, with one set of rules for the bad cases:
//   - duplicate: ignored (AlreadyKnown);
//   - gap (a predecessor, a dep or the author's registration is missing): held aside, applied
//     when what it waits for arrives, reported until then;
//   - fork: recorded and refused; the record is kept even when the session is rolled back;
//   - refused by a rule (sync's or the app's): stored with its verdict, none of its ops projected;
//   - sealed ops whose key is not here: kept sealed, judged and projected when the key arrives;
//     a key that is here but does not open an op refuses its whole change set.
// Nothing is half applied: a change set is projected whole or not at all, and the session
// commits all of its change sets or none. Not thread-safe; one session per store at a time.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>
#include "sync/oplog.h"

namespace xs::sync {

struct ApplyReport {
    std::size_t applied = 0;   // newly accepted (held ones it unblocked included)
    std::size_t known = 0;     // already here
    std::vector<RefusedChangeSet> refused;  // stored, their ops not projected
    std::vector<ChainIssue> held;           // still waiting when the session ended
    std::vector<ChainIssue> forks;          // recorded and refused
    int keysGained = 0;        // channel keys this replica could open
    std::vector<std::string> warnings;  // envelopes for this replica that did not open
};

class ApplySession {
public:
    // Begins the session's transaction (BEGIN IMMEDIATE).
    static SResult<std::unique_ptr<ApplySession>> begin(OpLog& log);
    // Uncommitted: rolls everything back, then writes the fork records again.
    ~ApplySession();
    ApplySession(const ApplySession&) = delete;
    ApplySession& operator=(const ApplySession&) = delete;

    // Admits, stores and judges one change set, then any held ones it unblocks. Errors: Invalid
    // (malformed), Corrupt (bad signature; a fork, which is recorded), storage errors; after an
    // error the caller normally abandons the session.
    SResult<ApplyOutcome> add(const ChangeSet& cs);
    // Pins the registrar inside the session (enrolment); Forbidden if another is pinned.
    SStatus pinTrustRoot(const TrustRoot& root) { return m_log.pinTrustRoot(root); }
    // The store's connection, inside the session's transaction (for writes that must be atomic
    // with the change sets: evidence records, meta).
    Db& db();
    const ApplyReport& report() const { return m_report; }
    // Ids of the change sets this session stored (accepted or refused, held ones it unblocked
    // included), for a replica that keeps its own arrival order (the server's feed).
    const std::set<std::string>& stored() const { return m_added; }

    // Re-judges what late keys or revocations changed, runs `inTransaction`, commits.
    SResult<ApplyReport> commit(const std::function<SStatus()>& inTransaction = {});

private:
    ApplySession(OpLog& log, Transaction tx) : m_log(log), m_tx(std::move(tx)) {}
    SStatus retryHeld();
    SStatus collectHeld();

    OpLog& m_log;
    std::optional<Transaction> m_tx;
    OpLog::Effects m_fx;
    ApplyReport m_report;
    std::vector<std::pair<ChangeSet, std::string>> m_forks;  // written again after a rollback
    std::set<std::string> m_added;           // stored by this session (accepted or refused)
    std::set<std::string> m_refusedAtStart;  // refused before it began
    bool m_committed = false;
};

}  // namespace xs::sync
