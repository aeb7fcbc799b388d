// Loaded into the gateway by bench/profile.ts (`node --import`): the first SIGUSR2 starts V8's CPU
// profiler and its sampling heap profiler (counting objects already collected too, so the figure
// is what a request allocates, not what it keeps); the second stops both and writes
// `<PROFILE_OUT>-<n>.cpuprofile` and `.heapprofile`, then `<PROFILE_OUT>-<n>.done`, n counting windows.
// Only the load in between is profiled: no start-up, no warm-up, no shutdown.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import process from "node:process";

const out = process.env.PROFILE_OUT;
const session = new Session();
session.connect();
const post = (method, params = {}) =>
  new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));

let running = false;
let windows = 0;
process.on("SIGUSR2", async () => {
  if (!running) {
    running = true;
    await post("Profiler.enable");
    await post("Profiler.setSamplingInterval", { interval: 100 });
    await post("HeapProfiler.enable");
    await post("HeapProfiler.startSampling", {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    await post("Profiler.start");
    return;
  }
  running = false;
  const { profile } = await post("Profiler.stop");
  const heap = await post("HeapProfiler.stopSampling");
  const n = ++windows;
  writeFileSync(`${out}-${n}.cpuprofile`, JSON.stringify(profile));
  writeFileSync(`${out}-${n}.heapprofile`, JSON.stringify(heap.profile));
  writeFileSync(`${out}-${n}.done`, "");
});
