/**
 * W2 - the W1 graph with tasks and files identified by key(obj) (pid and
 * file id), so checkpoint looks them up through the core's numeric table
 * (C in the native backend) instead of the JS identity Map.  Same anchors,
 * same verification; the image is the same bytes as W1's.
 */
import { runGraphWorkload, type GraphWorkloadResult } from './w1.js';
import type { BenchConfig, Env } from '../run.js';

export function runW2(cfg: BenchConfig, env: Env): Promise<GraphWorkloadResult> {
  return runGraphWorkload('W2', true, cfg, env);
}
