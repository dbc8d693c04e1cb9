// The Device Repository's codec examples in node, for repository_codecs.py beside this file.
//
// Reads the cases the Python side wrote (sources, each routine's scripts, the examples) and runs
// every example `rounds` times in two ways:
// - "same": exactly what LoRaWAN Hub does in QuickJS: one context per codec routine, the same
//   runtime, factory and entry scripts, and per call a fresh run of the codec's function,
//   JSON in and out (like with like: only the engine differs);
// - "fresh_context": what The Things Stack does, a new context per call (vm.createContext),
//   the routine's script compiled once (vm.Script) and run in it.
// Prints {"same": {...}, "fresh_context": {...}} with the mean µs per call after the first round.
'use strict';

const fs = require('fs');
const vm = require('vm');

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const rounds = Number(process.argv[3] || 5);
const TIMEOUT = 1000;

function measure(prepare, call) {
  const prepared = cases.examples.map((example) => {
    try {
      return prepare(example);
    } catch (err) {
      return null;
    }
  });
  let total = 0;
  let calls = 0;
  let failed = 0;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < cases.examples.length; i++) {
      const target = prepared[i];
      if (target === null) {
        continue;
      }
      const text = JSON.stringify(cases.examples[i].input);
      const started = process.hrtime.bigint();
      try {
        call(target, text);
      } catch (err) {
        failed += round === 0 ? 1 : 0;
      }
      const elapsed = Number(process.hrtime.bigint() - started) / 1000;
      if (round > 0) {
        total += elapsed;
        calls += 1;
      }
    }
  }
  return { mean_us: total / calls, calls: calls, failed_first_round: failed };
}

const contexts = new Map();
const same = measure(
  (example) => {
    const key = example.routine + ' ' + example.source;
    let context = contexts.get(key);
    if (context === undefined) {
      const sandbox = vm.createContext({});
      const scripts = cases.routines[key];
      vm.runInContext(scripts.runtime, sandbox);
      vm.runInContext(scripts.factory, sandbox);
      context = { call: sandbox.__lorawanHubCall, entry: vm.runInContext(scripts.entry, sandbox) };
      contexts.set(key, context);
    }
    return context;
  },
  (context, text) => JSON.parse(context.call(context.entry, text)),
);

const scripts = new Map();
const fresh = measure(
  (example) => {
    const key = example.routine + ' ' + example.source;
    let script = scripts.get(key);
    if (script === undefined) {
      const routine = cases.routines[key];
      script = new vm.Script(
        routine.runtime + '\n' + routine.factory + '\nvar __entry = ' + routine.entry + ';',
      );
      scripts.set(key, script);
    }
    return script;
  },
  (script, text) => {
    const sandbox = vm.createContext({});
    script.runInContext(sandbox, { timeout: TIMEOUT });
    return JSON.parse(sandbox.__lorawanHubCall(sandbox.__entry, text));
  },
);

process.stdout.write(JSON.stringify({ same: same, fresh_context: fresh, node: process.version }));
