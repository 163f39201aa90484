namespace ResidualNet.Runtime;

/// <summary>
/// What the environment variable <c>RESIDUALNET_ONEDNN</c> asks of the <see cref="OneDnnGuard"/>
/// (<c>auto</c>, <c>on</c> or <c>off</c>, case-insensitive; unset or empty means <c>auto</c>).
/// </summary>
public enum OneDnnGuardMode
{
    /// <summary>The default: check, and act only where the checks show a problem.</summary>
    Auto,

    /// <summary><c>on</c>: leave libtorch's oneDNN exactly as it is; no check, no change.</summary>
    On,

    /// <summary><c>off</c>: turn oneDNN off in libtorch (ATen's <c>torch.backends.mkldnn.enabled = False</c>).</summary>
    Off,
}
