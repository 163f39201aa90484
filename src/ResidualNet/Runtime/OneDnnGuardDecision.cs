namespace ResidualNet.Runtime;

/// <summary>What the <see cref="OneDnnGuard"/> decided (and did) in this process.</summary>
public enum OneDnnGuardDecision
{
    /// <summary>Not Linux x64 (only there has the problem been seen): nothing checked, nothing changed.</summary>
    NotApplicable,

    /// <summary>The checks passed (plausible cache sizes, a right canary convolution): nothing changed.</summary>
    Unaffected,

    /// <summary><c>RESIDUALNET_ONEDNN=on</c>: oneDNN left as it is without checks.</summary>
    LeftAsIs,

    /// <summary>oneDNN's record of the CPU's data cache sizes was implausible (a CPU that hides its caches); the guard
    /// wrote plausible sizes into it and a canary convolution then came out right. oneDNN keeps its speed.</summary>
    CacheSizesCorrected,

    /// <summary>oneDNN was turned off in libtorch (asked for with <c>RESIDUALNET_ONEDNN=off</c>, or because a check
    /// failed and the cache sizes could not be corrected). Right results, slower convolutions.</summary>
    OneDnnDisabled,

    /// <summary>oneDNN was already off in libtorch when the guard ran (<c>userEnabledMkldnn()</c> false): nothing to do.</summary>
    AlreadyDisabled,

    /// <summary>The guard had to act but could not (libtorch's symbols were missing, or libtorch could not be used);
    /// it said so on standard error and left everything unchanged.</summary>
    Unresolved,
}
