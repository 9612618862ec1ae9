#include "sync/apply.h"

#include "sync/changeset_codec.h"

namespace xs::sync {

SResult<std::unique_ptr<ApplySession>> ApplySession::begin(OpLog& log) {
    auto tx = Transaction::begin(log.m_store.db());
    if (!tx) return tx.error();
    std::unique_ptr<ApplySession> session(new ApplySession(log, std::move(*tx)));
    auto refused = log.refused();
    if (!refused) return refused.error();
    for (const auto& r : *refused) session->m_refusedAtStart.insert(r.id);
    // What was held for being dated ahead may go now that time has passed.
    XS_TRY(session->retryHeld());
    return session;
}

ApplySession::~ApplySession() {
    if (m_committed) return;
    m_tx.reset();  // rolled back
    if (m_forks.empty()) return;
    // A fork is evidence of a copied or compromised device: it outlives the refused batch.
    auto tx = Transaction::begin(m_log.m_store.db());
    if (!tx) return;
    for (const auto& [cs, detail] : m_forks)
        if (!m_log.m_logStore->recordFork(cs, detail)) return;
    (void)tx->commit();
}

Db& ApplySession::db() { return m_log.m_store.db(); }

SResult<ApplyOutcome> ApplySession::add(const ChangeSet& cs) {
    std::string refusal, holdReason;
    auto outcome = m_log.applyReceived(cs, m_fx, refusal, holdReason);
    if (!outcome) {
        if (outcome.code() == SyncError::Corrupt && outcome.message().rfind("fork: ", 0) == 0) {
            std::string detail = outcome.message().substr(6);
            m_forks.emplace_back(cs, detail);
            m_report.forks.push_back({cs.device, "fork", detail});
        }
        return outcome;
    }
    switch (*outcome) {
        case ApplyOutcome::AlreadyKnown: ++m_report.known; return outcome;
        case ApplyOutcome::Held: return outcome;
        case ApplyOutcome::Refused: m_report.refused.push_back({cs.id, cs.device, cs.seq, refusal}); break;
        case ApplyOutcome::Applied: ++m_report.applied; break;
    }
    m_added.insert(cs.id);
    XS_TRY(retryHeld());
    return outcome;
}

SStatus ApplySession::retryHeld() {
    // Whatever waited for this change set may go now; and what that frees, and so on.
    for (bool progress = true; progress;) {
        progress = false;
        auto held = m_log.m_logStore->held();
        if (!held) return held.error();
        for (const auto& cs : *held) {
            std::string refusal, holdReason;
            auto outcome = m_log.applyReceived(cs, m_fx, refusal, holdReason);
            if (!outcome) {
                // It can never go in (a bad signature once its key is known, a fork): out of the
                // held set, into the report.
                XS_TRY(m_log.m_logStore->unhold(cs.id));
                if (outcome.code() == SyncError::Corrupt && outcome.message().rfind("fork: ", 0) == 0) {
                    m_forks.emplace_back(cs, outcome.message().substr(6));
                    m_report.forks.push_back({cs.device, "fork", outcome.message().substr(6)});
                } else {
                    m_report.refused.push_back({cs.id, cs.device, cs.seq, outcome.message()});
                }
                progress = true;
                continue;
            }
            if (*outcome == ApplyOutcome::Held) continue;
            m_added.insert(cs.id);
            if (*outcome == ApplyOutcome::Applied) ++m_report.applied;
            if (*outcome == ApplyOutcome::Refused) m_report.refused.push_back({cs.id, cs.device, cs.seq, refusal});
            progress = true;
        }
    }
    return {};
}

SStatus ApplySession::collectHeld() {
    m_report.held.clear();
    auto issues = m_log.chainIssues();
    if (!issues) return issues.error();
    for (auto& i : *issues)
        if (i.kind == "gap") m_report.held.push_back(std::move(i));
    return {};
}

SResult<ApplyReport> ApplySession::commit(const std::function<SStatus()>& inTransaction) {
    if (m_committed || !m_tx) return fail(SyncError::Invalid, "the apply session is over");
    if (m_fx.needRejudge) {
        // A key arrived for ops stored sealed, or a revocation refused links accepted before:
        // every verdict after them may change, so all are judged again, in causal order.
        XS_TRY(m_log.rejudgeAll(m_fx));
        auto refused = m_log.refused();
        if (!refused) return refused.error();
        m_report.refused.clear();
        for (auto& r : *refused)
            if (m_added.count(r.id) || !m_refusedAtStart.count(r.id)) m_report.refused.push_back(std::move(r));
    }
    XS_TRY(collectHeld());
    if (inTransaction) XS_TRY(inTransaction());
    XS_TRY(m_tx->commit());
    m_tx.reset();
    m_committed = true;
    m_report.keysGained = m_fx.keysGained;
    m_report.warnings = m_fx.warnings;
    return m_report;
}

}  // namespace xs::sync
