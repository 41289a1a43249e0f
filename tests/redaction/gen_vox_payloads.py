#!/usr/bin/env python3
"""Writes tests/sql/redact_vox.sql: python3 tests/redaction/gen_vox_payloads.py > tests/sql/redact_vox.sql"""
import json
# Payloads shaped as Vox writes them (field names from crates/vox-telemetry/src/types.rs,
# crates/vox-db/src/*_telemetry.rs and Vox's contracts/*.schema.json), with the
# fields each contract requires.
cases = [
 ("model_call_event", {"model": "anthropic/claude-3.5-sonnet", "provider": "openrouter", "route_profile": "balanced", "prompt_tokens": 1200, "completion_tokens": 310, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0, "latency_ms": 840, "cost_usd": 0.0042, "cost_source": "provider", "error_class": None, "retry_attempt": 0, "task_id": "t-91", "parent_task_id": None, "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "caller_agent_id": "agent-7"}, ["route_profile", "trace_id", "model"]),
 ("model_route_event", {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "route_policy_profile": "cost_first", "route_profile": "economy", "tier": "standard"}, ["trace_id", "route_policy_profile"]),
 ("syntax_k_event", {"name": "webir_json", "repository_id": "repo-1", "fixture_id": "fx-12", "details": {"schema_version": 1, "fixture_id": "fx-12", "target_kind": "web_ir", "raw_bytes": 1832, "compressor_results": [{"name": "zstd", "compressed_bytes": 611}], "k_est_bytes": 611, "source_hash": "a" * 64, "toolchain_fingerprint": {"compiler": "vox-compiler@0.9.1", "compressor_profiles": ["zstd-19", "bzip2-9", "gzip-9"], "platform": "linux-x86_64", "timestamp_unix_ms": 1764080878123}}}, ["details.schema_version", "details.fixture_id", "details.target_kind", "details.raw_bytes", "details.compressor_results", "details.k_est_bytes", "details.toolchain_fingerprint"]),
 ("task.root_summary", {"task_id": "t-91", "trace_id": "4bf9", "repository_id": "repo-1", "outcome": "success", "wall_time_ms": 91234, "total_input_tokens": 9000, "total_output_tokens": 1200, "total_cost_usd": 0.03, "child_call_count": 4, "max_span_depth": 3, "subagent_fanout": 2}, ["task_id", "outcome"]),
 ("build.summary", {"build_id": "b-7", "outcome": "ok", "wall_time_ms": 61000, "crates_compiled": 42, "error_count": 0, "invocation_context": "ci"}, ["build_id", "outcome"]),
 ("telemetry.error", {"subsystem": "router", "error_class": "timeout", "http_status": 504, "retry_attempt": 1, "retried": True, "model": "gpt-4o-mini", "provider": "openrouter", "task_id": "t-1", "trace_id": "4bf9"}, ["subsystem", "error_class"]),
 ("fixture.hole.observed", {"cache_key": "9f2c1e", "observation": "stale", "reviewer": "agent-3"}, ["cache_key", "observation"]),
 ("fixture.model.intent_resolved", {"task_category": "codegen", "strengths": ["rust"], "tier_max": "strong", "resolved_model_hint": "claude", "trace_id": "4bf9"}, ["task_category", "resolved_model_hint"]),
 ("fixture.prompt.dispatch", {"stage": "cascade", "outcome": "ok", "error": None, "redact_count": 0}, ["stage", "outcome"]),
 ("fixture.search.dispatch", {"corpus": "docs", "outcome": "ok", "error": None, "top_k": 8}, ["corpus", "outcome"]),
 ("orch.agentos.guardrail_deny", {"tool": "fs.delete", "reason": "destructive", "risk_score": 0.92}, ["tool", "reason"]),
 ("orch.subagent.dispatch", {"metric_type": "orch.subagent.dispatch", "decision": "spawn", "complexity": 3, "chain_depth": 1, "session_id": "mcp:tool-7", "parent_task_id": "t-1", "span_depth": 2, "dispatch_latency_ms": 12}, ["metric_type", "decision"]),
 ("benchmark_event", {"name": "parse_webir", "repository_id": "repo-1", "metric_value_unit": "ms", "details": {"iterations": 100}}, ["name"]),
 ("socrates_surface", {"socrates_aggregate": True, "repository_id": "repo-1", "sample_size": 40, "mean_confidence_estimate": 0.71, "mean_contradiction_ratio": 0.1, "mean_hallucination_risk_proxy": 0.2, "prepared_by": "vox", "answer_count": 30, "ask_count": 5, "abstain_count": 5}, ["sample_size"]),
 ("populi_control_event", {"node_id": "n-1", "scope_id": "s-1", "control_base": "mesh", "ok": True}, ["node_id"]),
]
print("-- Issue 11 item 4: Vox's S0/S1 payloads (field names from Vox's types.rs, *_telemetry.rs and")
print("-- contracts) add nothing above S1 to the class (key names match whole segments: route_profile")
print("-- is no *file; toolchain_fingerprint is build metadata), and `strict` keeps every field their")
print("-- contracts require.")
for mt, p, req in cases:
    j = json.dumps(p, separators=(",", ":")).replace("'", "''")
    print(f"SELECT 'class-{mt}', telem_classify('benchmark_event', '{j}');")
    cond = " AND ".join(f"json_extract(r, '$.{f}') IS json_extract('{j}', '$.{f}')" for f in req)
    print(f"SELECT 'strict-{mt}', (SELECT CASE WHEN {cond} THEN 'kept' ELSE 'LOST ' || r END FROM (SELECT telem_redact('{j}', 'strict') AS r));")
