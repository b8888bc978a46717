// Least-squares line through (time, value) samples: the rate a disk fills at, and when it
// reaches a level at that rate.

export interface Sample {
  at: number;
  value: number;
}

export interface Trend {
  /** Units per millisecond. */
  slope: number;
  /** The fitted value at the last sample's time. */
  current: number;
  /** Milliseconds from the last sample until the line reaches `level`; undefined when it never does (flat, or moving away). */
  timeToReach(level: number): number | undefined;
}

export function linearTrend(samples: readonly Sample[]): Trend {
  const n = samples.length;
  const t0 = samples[0]!.at;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const s of samples) {
    const x = s.at - t0;
    sx += x;
    sy += s.value;
    sxx += x * x;
    sxy += x * s.value;
  }
  const denominator = n * sxx - sx * sx;
  const slope = denominator === 0 ? 0 : (n * sxy - sx * sy) / denominator;
  const intercept = (sy - slope * sx) / n;
  const lastX = samples[n - 1]!.at - t0;
  const current = intercept + slope * lastX;
  return {
    slope,
    current,
    timeToReach(level) {
      if (slope === 0) return undefined;
      const t = (level - current) / slope;
      return t >= 0 ? t : undefined;
    },
  };
}
