#!/usr/bin/python3
"""vox_rows.py -- research_metrics rows shaped as Vox's producers write them.

    tools/vox_rows.py [--rows N] [--seed S] > rows.sql

Prints SQL for a database made from sql/schema/ (Vox's DDL): INSERTs into
research_metrics, one per row, plus a table vox_expect(id, accepted,
problem) saying whether Vox's writer accepts the row and, when it does not,
the problem telem_metric_problem must report.

Each producer below follows the code that writes the row in
vox-foundation/vox (the file is named next to it): the session prefix, the
metric_value and the metadata_json as serde_json serializes the struct
(Option fields as null unless skip_serializing_if, AiFixtureEvent with its
fixture_kind tag).  Rejected rows break one rule of
validate_research_metric_row (crates/vox-telemetry/src/types.rs), with the
problem our function words for it.  Deterministic for a given seed.
"""
import argparse
import json
import random


def js(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def opt(r, v, p=0.5):
    return v if r.random() < p else None


def hexs(r, n):
    return "".join(r.choice("0123456789abcdef") for _ in range(n))


REPOS = ["vox", "repo-42", "acme-web", "tools"]


# Each producer returns (session_id, metric_type, metric_value, metadata_json).

def benchmark(r):  # crates/vox-db/src/benchmark_telemetry.rs, BenchmarkEventMeta
    repo = r.choice(REPOS)
    meta = {"name": r.choice(["vox_run_warm", "ci_build_timings", "cross_repo_query"]), "repository_id": repo}
    if r.random() < 0.7:
        meta["metric_value_unit"] = r.choice(["seconds", "milliseconds", "ratio"])
    if r.random() < 0.8:
        meta["details"] = {"lanes": [{"lane": "check", "ok": True, "ms": r.randint(1, 9000)}], "total_ms": r.randint(1, 90000)}
    return f"bench:{repo}", "benchmark_event", opt(r, round(r.random() * 100, 3), 0.8), js(meta)


def syntax_k(r):  # crates/vox-db/src/syntax_k_telemetry.rs, SyntaxKEventMeta {details: SyntaxKEvent}
    repo = r.choice(REPOS)
    fx = f"fx-{r.randint(1, 60)}"
    meta = {"name": r.choice(["webir_json", "emit_tsx_preview", "regression_gate"]), "repository_id": repo, "fixture_id": fx}
    if r.random() < 0.9:
        raw = r.randint(100, 90000)
        comps = [{"name": n, "profile": p, "compressed_bytes": raw // 3, "ratio": round(1 / 3, 4)}
                 for n, p in r.sample([("zstd", "19"), ("bzip2", "9"), ("gzip", "9")], r.randint(1, 3))]
        d = {"schema_version": 1, "fixture_id": fx, "target_kind": r.choice(["webir", "tsx"]), "raw_bytes": raw,
             "compressor_results": comps, "k_est_bytes": raw // 3,
             "toolchain_fingerprint": {"compiler": "voxc 0.9.3", "compressor_profiles": ["zstd-19"],
                                       "platform": "linux-x86_64", "timestamp_unix_ms": 1760000000000}}
        if r.random() < 0.5:
            d["source_hash"] = hexs(r, 64)
        if r.random() < 0.5:
            d["ncd_vs_baseline"] = {"per_compressor": [{"name": "zstd", "value": 0.12}], "median": 0.12}
        if r.random() < 0.5:
            d["support_metrics"] = {"representability": {"parse_ok": True, "hir_ok": True, "web_ir_validate_ok": True,
                                                         "emit_preview_ok": None, "first_failing_stage": None}}
        meta["details"] = d
    return f"syntaxk:{repo}", "syntax_k_event", opt(r, round(r.random(), 4)), js(meta)


def populi(r):  # crates/vox-db/src/populi_control_telemetry.rs, MeshControlEventMeta
    repo = r.choice(REPOS)
    meta = {"name": r.choice(["local_registry_publish", "orchestrator_status_snapshot"]), "repository_id": repo}
    if r.random() < 0.6:
        meta["details"] = {"nodes": r.randint(1, 9), "state": "ok"}
    return f"mens:{repo}", "populi_control_event", None, js(meta)


def model_call(r):  # crates/vox-db/src/telemetry_sink.rs, TelemetryEvent::ModelCall (ModelCallEvent)
    task = opt(r, r.randint(1, 10 ** 6), 0.8)
    cost = round(r.random() / 10, 5)
    e = {"model": r.choice(["claude-opus-4-7", "gpt-5", "local-small"]), "provider": r.choice(["anthropic", "openai", "ollama"]),
         "route_profile": opt(r, r.choice(["strong", "economy"])), "prompt_tokens": r.randint(0, 90000),
         "completion_tokens": r.randint(0, 9000), "cache_read_input_tokens": opt(r, r.randint(0, 5000)),
         "cache_creation_input_tokens": opt(r, r.randint(0, 500)), "latency_ms": r.randint(1, 60000),
         "cost_usd": cost, "cost_source": "provider_reported", "error_class": opt(r, "rate-limited", 0.1),
         "retry_attempt": r.randint(0, 3), "task_id": task, "parent_task_id": opt(r, r.randint(1, 10 ** 6), 0.3),
         "trace_id": opt(r, hexs(r, 32), 0.8), "caller_agent_id": opt(r, "agent-7", 0.3)}
    return f"model:{task if task is not None else ''}", "model_call_event", cost, js(e)


def task_root(r):  # telemetry_sink.rs, TaskRootSummary (TaskRootSummaryEvent)
    task = r.randint(1, 10 ** 6)
    cost = round(r.random(), 4)
    e = {"task_id": task, "trace_id": hexs(r, 32), "repository_id": opt(r, r.choice(REPOS)),
         "outcome": r.choice(["completed", "failed", "doubted", "cancelled"]), "wall_time_ms": 0,
         "total_input_tokens": r.randint(0, 10 ** 6), "total_output_tokens": r.randint(0, 10 ** 5),
         "total_cost_usd": cost, "child_call_count": r.randint(0, 40), "max_span_depth": r.randint(0, 6),
         "subagent_fanout": r.randint(0, 5)}
    return f"task:{task}", "task.root_summary", cost, js(e)


def build_summary(r):  # telemetry_sink.rs, BuildSummary (BuildSummaryEvent)
    bid = f"ci-{r.randint(1, 99999)}"
    e = {"build_id": bid, "outcome": r.choice(["success", "failure", "cancelled"]), "wall_time_ms": r.randint(1000, 900000),
         "crates_compiled": r.randint(1, 300), "error_count": r.randint(0, 3), "invocation_context": opt(r, r.choice(["ci", "local", "watch"]))}
    return f"build:{bid}", "build.summary", None, js(e)


def error_event(r):  # telemetry_sink.rs, Error (ErrorEvent)
    sub = r.choice(["llm.http", "orch.circuit_breaker"])
    e = {"subsystem": sub, "error_class": r.choice(["rate-limited", "connection-timeout"]), "http_status": opt(r, 429),
         "retry_attempt": r.randint(0, 3), "retried": r.random() < 0.5, "model": opt(r, "gpt-5"),
         "provider": opt(r, "openai"), "task_id": opt(r, r.randint(1, 999)), "trace_id": opt(r, hexs(r, 32))}
    return f"error:{sub}", "telemetry.error", None, js(e)


def fixture(r):  # telemetry_sink.rs, AiFixture (AiFixtureEvent, tag fixture_kind)
    k = r.randrange(5)
    if k == 0:
        ev = {"task_category": "CodeGen", "strengths": ["codegen"], "resolved_model_hint": "openrouter/auto"}
        if r.random() < 0.5:
            ev["tier_max"] = "Pro"
        tid = opt(r, hexs(r, 16))
        if tid:
            ev["trace_id"] = tid
        return f"fixture:intent:{tid or 'unknown'}", "fixture.model.intent_resolved", None, js(dict({"fixture_kind": "model_intent"}, **ev))
    if k == 1:
        sid = opt(r, f"s-{r.randint(1, 99)}")
        ev = {"fixture_kind": "subagent_dispatch", "metric_type": "orch.subagent.dispatch",
              "decision": r.choice(["inline", "subagent"]), "complexity": r.randint(0, 255), "chain_depth": r.randint(0, 4)}
        if sid:
            ev["session_id"] = sid
        if r.random() < 0.5:
            ev["parent_task_id"] = r.randint(1, 999)
        ev["span_depth"] = r.randint(0, 5)
        return f"fixture:subagent:{sid or 'unknown'}", "orch.subagent.dispatch", None, js(ev)
    if k == 2:
        stage = r.choice(["research", "draft"])
        ev = {"fixture_kind": "prompt_dispatch", "stage": stage, "outcome": "ok", "redact_count": r.randint(0, 3)}
        if r.random() < 0.2:
            ev["error"] = "timeout"
        return f"fixture:prompt:{stage}", "fixture.prompt.dispatch", None, js(ev)
    if k == 3:
        corpus = r.choice(["docs", "code"])
        ev = {"fixture_kind": "search_dispatch", "corpus": corpus, "outcome": "ok"}
        if r.random() < 0.5:
            ev["top_k"] = r.randint(1, 20)
        return f"fixture:search:{corpus}", "fixture.search.dispatch", None, js(ev)
    ck = hexs(r, 12)
    ev = {"fixture_kind": "hole_observed", "cache_key": ck, "observation": "stale"}
    if r.random() < 0.3:
        ev["reviewer"] = "ana"
    return f"fixture:hole:{ck}", "fixture.hole.observed", None, js(ev)


def guardrail(r):  # crates/vox-orchestrator-mcp/src/agentos_telemetry.rs
    repo = r.choice(REPOS)
    score = r.randint(0, 100)
    return f"mcp:{repo}", "orch.agentos.guardrail_deny", float(score), js(
        {"tool": r.choice(["shell_exec", "fs_write"]), "reason": "destructive heuristic", "risk_score": score})


def hitl(r):  # crates/vox-orchestrator/src/risk_matrix.rs, HitlInterruptEvent
    return f"route:{r.choice(REPOS)}", "orch.hitl.interrupt", None, js(
        {"metric_type": "orch.hitl.interrupt", "action": r.choice(["escalate", "pause"]), "grade": r.choice(["high", "critical"]),
         "action_description": "drop table", "session_id": opt(r, "orch-1")})


def risk(r):  # risk_matrix.rs, RiskScoreEvent
    s = round(r.random(), 3)
    return f"route:{r.choice(REPOS)}", "orch.risk.score", s, js(
        {"metric_type": "orch.risk.score", "score": s, "grade": "medium", "session_id": None})


def model_route(r):  # docs/src/reference/telemetry-metric-contract.md: trace_id and route_policy_profile required
    return f"route:{r.choice(REPOS)}", "model_route_event", None, js(
        {"trace_id": hexs(r, 32), "route_policy_profile": r.choice(["balanced", "privacy"]), "tier": "standard"})


def orch_decision(r):  # crates/vox-orchestrator/src/*: the D1-D10 decision events (metric_type, ..., session_id)
    sid = opt(r, "orch-session-1")
    mt, fields = r.choice([
        ("orch.budget.decision", {"status": r.choice(["Proceed", "Downgrade", "Halt"]), "triggering_fraction": round(r.random(), 3)}),  # budget_gate.rs
        ("orch.cache.hit_prediction", {"prediction": "likely_hit", "overlap_ratio": round(r.random(), 3)}),  # cache_predictor.rs
        ("orch.calibration.run", {"z_score": round(r.gauss(0, 1), 3), "observation_count": r.randint(0, 9999)}),  # calibration.rs
        ("orch.calibration.drift_alert", {"z_score": round(r.gauss(3, 1), 3)}),
        ("orch.calibration.bandit_update", {"model_id": "gpt-5", "success": r.random() < 0.5, "expected_reward": round(r.random(), 3)}),
        ("orch.circuit_breaker.trip", {"trip_reason": "NoProgress", "replan_attempts": r.randint(0, 5)}),  # circuit_breaker.rs
        ("orch.socrates.fusion", {"score": round(r.random(), 3), "decision": "answer"}),  # confidence_fusion.rs
        ("orch.plan.mode_decision", {"decision": "plan", "complexity": r.randint(0, 255), "dependency_count": r.randint(0, 9),
                                     "tool_hint_count": r.randint(0, 9), "prior_adequacy_score": round(r.random(), 3)}),  # plan_mode_trigger.rs
        ("orch.privacy.route_decision", {"privacy_level": "internal", "routing_decision": "local"}),  # privacy_classifier.rs
        ("orch.routing.tier", {"tier": r.choice(["Economy", "Standard", "Strong"]), "complexity": r.randint(0, 255),
                               "confidence": round(r.random(), 3), "alarm_level": "none", "budget_exhausted": False}),  # tier_cascade.rs
        ("orch.subagent.chain_depth_alert", {"current_depth": 5, "max_depth": 4}),  # subagent_dispatch.rs
    ])
    meta = {"metric_type": mt}
    meta.update(fields)
    meta["session_id"] = sid
    return f"route:{r.choice(REPOS)}", mt, None, js(meta)


def vox_events(r):  # crates/vox-telemetry/src/types.rs: CR-L8, audit and model-autonomic events
    # (ResearchMetricsSink does not persist these variants yet; the rows are
    # shaped as their structs serialize, for when it does.)
    repo = r.choice(REPOS)
    k = r.randrange(10)
    if k == 0:
        return f"lint:{repo}", "vox.lint.finding", None, js({"rule_id": "retired/decorator-usage", "severity": "warning",
            "relative_path": "examples/old.vox", "line": r.randint(1, 900), "autofix_available": True, "confidence": "high"})
    if k in (1, 2):
        out = "applied" if k == 1 else "rejected"
        ev = {"rule_id": "retired/decorator-usage", "outcome": out, "relative_path": "src/main.vox", "line": 7}
        if out == "rejected":
            ev["reason"] = "user dismissed"
        return f"lint:{repo}", f"vox.lint.autofix_{out}", None, js(ev)
    if k == 3:
        return f"repair:{repo}", "vox.repair.attempt", 0.42, js({"attempt_number": 2, "diagnostics_in": 5, "diagnostics_out": 1,
            "files_touched": 3, "cost_usd": 0.42, "duration_ms": 8200, "panel_member_id": "claude-sonnet"})
    if k == 4:
        return f"repair:{repo}", "vox.repair.outcome", 0.72, js({"final_state": "success", "attempts_used": 2, "attempts_budget": 3,
            "total_cost_usd": 0.72, "total_duration_ms": 14500, "residual_diagnostics": 0, "repository_id": repo})
    if k == 5:
        return f"audit:{repo}", "vox.audit.run", None, js({"thing": "retirement", "outcome": "ok", "corpus_hash": "blake3:abc",
            "corpus_size": 16, "duration_seconds": 0.42, "cumulative_cost_usd": 0.0, "unreachable_panel_member_count": 0,
            "umbrella_run": False})
    if k == 6:
        return f"model_autonomic:{repo}", "vox.model.selection_decision", None, js({"task": "code_gen", "axes": [1, 2, 3],
            "chosen_model": "gpt-5", "reason": "scored", "intent_caller": "repair-loop"})
    if k == 7:
        return f"model_autonomic:{repo}", "vox.model.discovery", None, js({"source": "openrouter", "model_id": "new/model",
            "max_context_tokens": 200000})
    if k == 8:
        return f"model_autonomic:{repo}", "vox.model.classification", None, js({"model_id": "new/model",
            "classifier_model": "anthropic/claude-haiku-4.5", "tier": "standard", "strengths": ["codegen"], "confidence": 0.8})
    return f"model_autonomic:{repo}", "vox.model.confidence_promotion", None, js({"model_id": "new/model",
        "from": "provisional", "to": "shadowed", "evidence": "shadow_eval"})


def free_form(r):  # producers without a payload contract: any JSON (socrates, memory, workflow, questioning)
    mt, sess = r.choice([("socrates_surface", "mcp:vox"), ("memory_hybrid_fusion", "socrates:retrieval"),
                         ("workflow_journal_entry", "workflow:vox"), ("questioning_event", "q-linked-7"),
                         ("agent_exec_time", "mcp:vox")])
    return sess, mt, opt(r, round(r.random(), 3)), js({"n": r.randint(0, 99), "state": "ok"})


PRODUCERS = [benchmark, syntax_k, populi, model_call, task_root, build_summary, error_event, fixture,
             guardrail, hitl, risk, model_route, orch_decision, vox_events, free_form]


# Rows Vox's validate_research_metric_row refuses, with our problem text.
def rejected(r):
    big = "x" * (256 * 1024 + 1)
    return [
        (("", "benchmark_event", None, None), "session_id must be non-empty"),
        (("é" * 257, "benchmark_event", None, None), "session_id exceeds 512 bytes"),
        (("bench:vox", "", None, None), "metric_type must be non-empty"),
        (("bench:vox", "m" * 129, None, None), "metric_type exceeds 128 bytes"),
        (("bench:vox", "bad type", None, None), "metric_type contains disallowed characters (allowed: A-Z a-z 0-9 _ . : -)"),
        (("bench:vox", "bad/type", None, None), "metric_type contains disallowed characters (allowed: A-Z a-z 0-9 _ . : -)"),
        (("s", "t", None, big), "metadata_json exceeds 262144 bytes"),
        (("route:vox", "model_route_event", None, js({"trace_id": "t"})),
         "model_route_event metadata_json must include trace_id and route_policy_profile"),
        (("route:vox", "model_route_event", None, js({"route_policy_profile": "p"})),
         "model_route_event metadata_json must include trace_id and route_policy_profile"),
    ]


def q(v):
    if v is None:
        return "NULL"
    if isinstance(v, float):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args()
    r = random.Random(a.seed)
    print("CREATE TABLE IF NOT EXISTS vox_expect(id INTEGER PRIMARY KEY, accepted INTEGER, problem TEXT);")
    print("BEGIN;")
    rid = 0
    for i in range(a.rows):
        s, mt, v, m = PRODUCERS[i % len(PRODUCERS)](r)
        rid += 1
        print(f"INSERT INTO research_metrics(id, session_id, metric_type, metric_value, metadata_json) "
              f"VALUES ({rid}, {q(s)}, {q(mt)}, {q(v)}, {q(m)});")
        print(f"INSERT INTO vox_expect VALUES ({rid}, 1, NULL);")
    for (s, mt, v, m), problem in rejected(r):
        rid += 1
        print(f"INSERT INTO research_metrics(id, session_id, metric_type, metric_value, metadata_json) "
              f"VALUES ({rid}, {q(s)}, {q(mt)}, {q(v)}, {q(m)});")
        print(f"INSERT INTO vox_expect VALUES ({rid}, 0, {q(problem)});")
    print("COMMIT;")


if __name__ == "__main__":
    main()
