"""Daily spend forecasts: a seasonal regression with a weekly rhythm and a linear trend.

The model, fit by least squares (numpy) on the last ``window`` complete days::

    spend(t) = level + trend * t + weekday effect(t) + noise

with one effect per day of the week (the weekday effects sum to zero). A forecast is the
fitted line carried forward; its interval is the residual spread scaled to the horizon
(90% by default, a normal approximation) from the day-to-day noise plus the uncertainty of
the fitted coefficients. With less than two weeks of history the trend
is dropped, with less than one week the weekday effects too; a fitted trend smaller than
two standard errors is dropped as well (on flat spend it only adds error).

Forecasts are model estimates, computed in floating point and returned as whole nano-USD;
exact spend (month to date, budgets) never goes through this module. The backtested error
on synthetic traffic is in BENCHMARKS.md (``python bench/forecast_backtest.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Z90 = 1.6449
TREND_T = 2.0
"""A fitted trend is kept only when it is at least this many standard errors from zero."""
DEFAULT_WINDOW = 84


@dataclass(frozen=True, slots=True)
class DailyForecast:
    first_day: int
    """Epoch day of the first forecast day."""
    mean: npt.NDArray[np.float64]
    """Expected nano-USD per day."""
    sigma: float
    """Residual standard deviation of one day, nano-USD."""
    z: float = Z90
    ahead: npt.NDArray[np.float64] | None = None
    """Design rows of the forecast days."""
    coef_cov: npt.NDArray[np.float64] | None = None
    """Covariance of the fitted coefficients (sigma^2 (X'X)^-1)."""

    def total(self, start: int = 0, end: int | None = None) -> tuple[int, int, int]:
        """Expected sum over days ``[start, end)`` with its interval, whole nanos, >= 0.

        The interval adds the uncertainty of the fitted level, trend and weekday effects
        to the days' own noise: var = n sigma^2 + a' Cov a, a the summed design rows.
        """
        part = self.mean[start:end]
        variance = len(part) * self.sigma**2
        if self.ahead is not None and self.coef_cov is not None and len(part):
            a = self.ahead[start:end].sum(axis=0)
            variance += float(a @ self.coef_cov @ a)
        spread = self.z * float(np.sqrt(variance))
        mean = float(part.sum())
        return round(max(mean, 0.0)), round(max(mean - spread, 0.0)), round(max(mean + spread, 0))

    def daily(self) -> list[tuple[int, int, int, int]]:
        """(epoch day, mean, low, high) per day, whole nanos, >= 0."""
        spread = self.z * self.sigma
        return [
            (
                self.first_day + i,
                round(max(m, 0.0)),
                round(max(m - spread, 0.0)),
                round(max(m + spread, 0.0)),
            )
            for i, m in enumerate(self.mean.tolist())
        ]


def _design(days: npt.NDArray[np.int64], trend: bool, weekly: bool) -> npt.NDArray[np.float64]:
    columns = [np.ones(len(days))]
    if trend:
        columns.append((days - days[0]).astype(np.float64))
    if weekly:
        dow = (days + 3) % 7  # epoch day 0 was a Thursday; 0 = Monday
        for d in range(6):
            columns.append((dow == d).astype(np.float64) - (dow == 6).astype(np.float64))
    return np.column_stack(columns)


def fit_forecast(
    first_day: int,
    spend: npt.ArrayLike,
    horizon: int,
    window: int = DEFAULT_WINDOW,
    z: float = Z90,
) -> DailyForecast:
    """Forecast ``horizon`` days after a history of daily spend starting on ``first_day``.

    >>> f = fit_forecast(0, [10, 10, 10, 10, 10, 10, 10] * 3, horizon=7)
    >>> f.total()[0]
    70
    """
    y_all = np.asarray(spend, dtype=np.float64)
    start = first_day + len(y_all)
    if horizon < 0:
        raise ValueError("horizon must be >= 0")
    if len(y_all) == 0:
        return DailyForecast(start, np.zeros(horizon), 0.0, z)
    y = y_all[-window:]
    days = np.arange(start - len(y), start, dtype=np.int64)
    weekly = len(y) >= 7
    fit = _fit(days, y, len(y) >= 14, weekly)
    if fit[0] and abs(fit[1][1]) < TREND_T * np.sqrt(fit[3][1, 1]):
        fit = _fit(days, y, False, weekly)  # a trend within its noise: leave it out
    trend, coef, sigma, cov = fit
    future = np.arange(start, start + horizon, dtype=np.int64)
    ahead = _design(np.concatenate([days[:1], future]), trend, weekly)[1:]
    return DailyForecast(start, ahead @ coef if horizon else np.zeros(0), sigma, z, ahead, cov)


def _fit(
    days: npt.NDArray[np.int64], y: npt.NDArray[np.float64], trend: bool, weekly: bool
) -> tuple[bool, npt.NDArray[np.float64], float, npt.NDArray[np.float64]]:
    """Least squares: (trend used, coefficients, residual sigma, coefficient covariance)."""
    x = _design(days, trend, weekly)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ coef
    dof = max(len(y) - x.shape[1], 1)
    sigma = float(np.sqrt(residual @ residual / dof))
    cov = np.asarray(sigma**2 * np.linalg.pinv(x.T @ x), dtype=np.float64)
    return trend, np.asarray(coef, dtype=np.float64), sigma, cov
