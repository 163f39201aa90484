using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Runtime;

/// <summary>
/// The computations the guard itself runs, on the CPU in float32 whatever the defaults, without touching the global
/// random generator or autograd: a tiny matrix product (loads libtorch and makes oneDNN describe the CPU) and the
/// canary, a bias-free 1x1 stride-2 convolution 256 → 512 on a [2, 256, 4, 4] input, the case that CPUs hiding their
/// caches get wrong by 12-15% in channels_last (<c>brgconv_1x1:avx512_core</c>).
/// </summary>
internal static class OneDnnCanary
{
    /// <summary>A relative difference above this fails the canary (right results differ by about 1e-7).</summary>
    internal const double Tolerance = 1e-3;

    /// <summary>A 2x2 float32 matrix product: loads libtorch; ATen's matmul asks oneDNN for the CPU's ISA, which builds
    /// oneDNN's CPU object without running any oneDNN kernel.</summary>
    internal static void TouchLibTorch()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var a = ones(2, 2, dtype: ScalarType.Float32, device: CPU);
        _ = a.matmul(a);
    }

    /// <summary>A tiny NCHW convolution (3 → 4 channels, 3x3, one 8x8 image): the fallback way to make oneDNN build its CPU object.</summary>
    internal static void TouchConvolution()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = ones(1, 3, 8, 8, dtype: ScalarType.Float32, device: CPU);
        var w = ones(4, 3, 3, 3, dtype: ScalarType.Float32, device: CPU);
        _ = nn.functional.conv2d(x, w);
    }

    /// <summary>
    /// Runs the canary in NCHW and in channels_last and compares each with a float64 matrix-product reference (no
    /// oneDNN involved); returns the larger relative difference (norm of the difference / norm of the reference).
    /// </summary>
    internal static double Run()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x64 = Pattern(2 * 256 * 4 * 4, 0.6180339887498949).reshape(2, 256, 4, 4);
        var w64 = Pattern(512 * 256, 0.7548776662466927).div_(16).reshape(512, 256, 1, 1);
        var x = x64.to(ScalarType.Float32);
        var w = w64.to(ScalarType.Float32);
        var xChannelsLast = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
        var wChannelsLast = w.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

        var sampled = x64.index(TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(0, null, 2), TensorIndex.Slice(0, null, 2));
        var reference = einsum("oc,nchw->nohw", w64.reshape(512, 256), sampled);
        double referenceNorm = reference.norm().item<double>();

        var nchw = nn.functional.conv2d(x, w, strides: [2, 2]);
        var channelsLast = nn.functional.conv2d(xChannelsLast, wChannelsLast, strides: [2, 2]);
        double a = (nchw.to(ScalarType.Float64) - reference).norm().item<double>() / referenceNorm;
        double b = (channelsLast.to(ScalarType.Float64) - reference).norm().item<double>() / referenceNorm;
        return double.IsNaN(a) || double.IsNaN(b) ? double.PositiveInfinity : System.Math.Max(a, b);
    }

    /// <summary>Values in [-0.5, 0.5): the fractional parts of i·step (a low-discrepancy sequence), in float64.</summary>
    private static Tensor Pattern(long count, double step)
    {
        var i = arange(count, dtype: ScalarType.Float64, device: CPU).mul_(step);
        return i.sub_(i.floor()).sub_(0.5);
    }
}
