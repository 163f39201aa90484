using System;
using System.IO;
using System.Linq;
using ResidualNet.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Performance;

/// <summary>
/// bfloat16 inference and the CPU facts it depends on.
/// </summary>
/// <remarks>
/// <para>
/// TorchSharp has no autocast, so low-precision inference converts the whole model and its input:
/// <c>model.to(ScalarType.BFloat16)</c> and <c>input.to(ScalarType.BFloat16)</c>. bf16 keeps fp32's exponent
/// range with an 8-bit mantissa: logits move by a few tenths on values in the tens, which rarely changes the
/// top-1 class.
/// </para>
/// <para>
/// Speed depends on the CPU. With the <c>avx512_bf16</c> (or <c>amx_bf16</c>) instructions, oneDNN runs bf16
/// convolutions natively and roughly twice as fast as fp32. Without them the model still runs and gives the same
/// kind of results, but libtorch emulates bf16 arithmetic (converting to fp32 and back), which is usually
/// <em>slower</em> than plain fp32: check <see cref="IsBFloat16Accelerated"/> before choosing bf16.
/// </para>
/// </remarks>
public static class LowPrecision
{
    /// <summary>
    /// Whether this machine's CPU advertises native bfloat16 arithmetic (<c>avx512_bf16</c> or <c>amx_bf16</c> in
    /// <c>/proc/cpuinfo</c>). Always false where <c>/proc/cpuinfo</c> does not exist (Windows, macOS): the answer
    /// is then unknown, not negative.
    /// </summary>
    /// <returns>True when the Linux kernel lists a bf16 CPU flag.</returns>
    public static bool IsBFloat16Accelerated()
    {
        const string cpuInfo = "/proc/cpuinfo";
        if (!File.Exists(cpuInfo))
        {
            return false;
        }

        return File.ReadLines(cpuInfo)
            .Where(line => line.StartsWith("flags", StringComparison.Ordinal))
            .Take(1)
            .Any(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Any(flag => flag is "avx512_bf16" or "amx_bf16"));
    }

    /// <summary>
    /// Converts every floating-point parameter and buffer of <paramref name="model"/> to bfloat16. TorchSharp
    /// replaces the Parameter objects when it converts a dtype: create optimizers and hooks afterwards.
    /// </summary>
    /// <typeparam name="TModule">The model's type, returned for chaining.</typeparam>
    /// <param name="model">Any TorchSharp module.</param>
    /// <returns><paramref name="model"/> itself.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    public static TModule ToBFloat16<TModule>(this TModule model) where TModule : nn.Module
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(model);
        return model.to(ScalarType.BFloat16);
    }
}
