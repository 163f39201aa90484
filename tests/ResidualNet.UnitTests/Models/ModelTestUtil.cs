using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using ResidualNet.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Models;

internal static class ModelTestUtil
{
    /// <summary>A registry of the built-in presets only: other tests may register their own networks in
    /// <see cref="ModelRegistry.Default"/>, which must not change the lists these tests enumerate.</summary>
    internal static ModelRegistry Presets { get; } = ModelRegistry.CreateWithPresets();

    internal static long ParameterCount(nn.Module module) => module.parameters().Sum(p => p.numel());

    /// <summary>"key [d0,d1,...]" lines, in state-dict order (the fixture format).</summary>
    internal static List<string> StateDictLines(nn.Module module)
        => module.state_dict().Select(kv => $"{kv.Key} [{string.Join(",", kv.Value.shape)}]").ToList();

    /// <summary>A committed fixture, read next to this source file (no copy into the build output needed).</summary>
    internal static string FixturePath(string fileName, [CallerFilePath] string thisFile = "")
        => Path.Combine(Path.GetDirectoryName(thisFile)!, "Fixtures", fileName);

    /// <summary>Input side for a registered network in the every-model tests: 32 (CIFAR size; the ImageNet stems
    /// bring it to 8, the last stage to 1, which keeps the forward and backward passes cheap).</summary>
    internal static int InputSize(ResNetOptions options) => 32;
}
