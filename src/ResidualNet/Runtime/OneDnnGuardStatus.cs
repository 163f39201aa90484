using System;
using System.Collections.Generic;

namespace ResidualNet.Runtime;

/// <summary>
/// What the <see cref="OneDnnGuard"/> found, decided and did in this process (it runs once per process).
/// </summary>
public sealed record OneDnnGuardStatus
{
    /// <summary>The mode asked for through <c>RESIDUALNET_ONEDNN</c> (auto when unset).</summary>
    public OneDnnGuardMode Mode { get; internal init; }

    /// <summary>The decision.</summary>
    public OneDnnGuardDecision Decision { get; internal init; }

    /// <summary>Why, in one sentence (the facts the decision rests on).</summary>
    public string Reason { get; internal init; } = string.Empty;

    /// <summary>What the CPU itself reports about its caches.</summary>
    public CpuCacheFacts Cpu { get; internal init; } = new();

    /// <summary>oneDNN's own record of the CPU as first read (before any change); null when it was not read (not Linux
    /// x64, or <c>RESIDUALNET_ONEDNN=on</c>, or libtorch could not be used).</summary>
    public OneDnnCpuRecord? OneDnn { get; internal init; }

    /// <summary>The cache sizes written into oneDNN's record (empty unless <see cref="OneDnnGuardDecision.CacheSizesCorrected"/>
    /// or a correction that was then followed by turning oneDNN off).</summary>
    public IReadOnlyList<CacheLevelInfo> WrittenCacheSizes { get; internal init; } = [];

    /// <summary>Where each written size came from ("L1 48 KiB (sysfs), ..."); empty when nothing was written.</summary>
    public string WrittenCacheSizeSources { get; internal init; } = string.Empty;

    /// <summary>The canary's relative difference from its float64 reference (the larger of NCHW and channels_last);
    /// null when the canary did not run. Right results are near 1e-7; the affected machines give 0.12-0.15.</summary>
    public double? CanaryRelativeError { get; internal init; }

    /// <summary>ATen's oneDNN switch (<c>userEnabledMkldnn()</c>) after the guard; null when it was not read.</summary>
    public bool? OneDnnEnabled { get; internal init; }

    /// <summary>The line written to standard error, or null when the guard stayed silent (nothing to report).</summary>
    public string? Notice { get; internal init; }

    /// <summary>How long the guard took.</summary>
    public TimeSpan Elapsed { get; internal init; }
}
