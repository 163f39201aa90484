using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using FluentAssertions;
using ResidualNet.Models;
using ResidualNet.TestSupport.Reference;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.IntegrationTests.Python;

/// <summary>
/// The same weights give the same logits as Python torchvision: the C# network's state dict is written as raw
/// float32 in state-dict order, Python loads it into torchvision's model key by key (same order), and both run
/// one fixed input in evaluation mode; the logits agree within 1e-4 of the largest logit. Live Python
/// (Category=Python): skipped with the reason where Python with torchvision is missing, failed where
/// RESIDUALNET_REQUIRE_PYTHON=1.
/// </summary>
public class TorchvisionForwardTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static ModelRegistry Presets { get; } = ModelRegistry.CreateWithPresets();

    [SkippableTheory]
    [Trait("Category", "Python")]
    [InlineData("resnet18")]
    [InlineData("resnet50")]
    [InlineData("resnext50_32x4d")]
    public void LogitsEqualPythonTorchvisionWithTheSameWeights(string name)
    {
        PythonEnvironment.Require();

        torch.manual_seed(123);
        using var model = Presets.Create(name);
        model.eval();
        string dir = Directory.CreateTempSubdirectory("residualnet-tv-").FullName;
        try
        {
            using var scope = torch.NewDisposeScope();
            using (torch.no_grad())
            {
                // Non-trivial running statistics, so that evaluation-mode batch norm is really compared.
                foreach (var (key, tensor) in model.state_dict())
                {
                    if (key.EndsWith("running_mean", StringComparison.Ordinal))
                    {
                        tensor.copy_(torch.randn_like(tensor) * 0.1);
                    }
                    else if (key.EndsWith("running_var", StringComparison.Ordinal))
                    {
                        tensor.copy_(torch.rand_like(tensor) + 0.5);
                    }
                }
            }

            using (var writer = new BinaryWriter(File.Create(Path.Combine(dir, "weights.bin"))))
            {
                foreach (var (_, tensor) in model.state_dict().Where(kv => kv.Value.dtype == ScalarType.Float32))
                {
                    writer.Write(MemoryMarshal.AsBytes(tensor.contiguous().data<float>().ToArray().AsSpan()));
                }
            }

            var x = torch.randn(2, 3, 64, 64);
            File.WriteAllBytes(Path.Combine(dir, "input.bin"), MemoryMarshal.AsBytes(x.data<float>().ToArray().AsSpan()).ToArray());
            Tensor logits;
            using (torch.no_grad())
            {
                logits = model.call(x);
            }

            float[] reference = RunPython(name, dir);
            var ours = logits.data<float>().ToArray();
            ours.Should().HaveCount(reference.Length);
            double maxDiff = ours.Zip(reference, (a, b) => (double)Math.Abs(a - b)).Max();
            double scale = Math.Max(1, reference.Max(v => Math.Abs(v)));
            // Untrained weights with random running statistics give logits far from 1; float32 rounding between
            // libtorch versions scales with them, so the 1e-4 bound is relative to the largest logit (at least 1).
            output.WriteLine($"{name}: max |difference| {maxDiff:G3}, largest |logit| {scale:G4}");
            maxDiff.Should().BeLessThan(1e-4 * scale, "logits of {0} (largest {1}) must equal torchvision's", name, scale);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static float[] RunPython(string name, string dir)
    {
        string script = string.Join("\n",
            "import sys",
            "import numpy as np, torch, torchvision",
            "name, d = sys.argv[1], sys.argv[2]",
            "m = getattr(torchvision.models, name)().eval()",
            "raw = np.fromfile(d + '/weights.bin', dtype='<f4')",
            "offset = 0",
            "with torch.no_grad():",
            "    for k, v in m.state_dict().items():",
            "        if v.dtype != torch.float32: continue",
            "        n = v.numel()",
            "        v.copy_(torch.from_numpy(raw[offset:offset + n].copy()).reshape(v.shape))",
            "        offset += n",
            "assert offset == raw.size, (offset, raw.size)",
            "x = torch.from_numpy(np.fromfile(d + '/input.bin', dtype='<f4').copy()).reshape(2, 3, 64, 64)",
            "with torch.no_grad():",
            "    y = m(x)",
            "print(' '.join(repr(float(v)) for v in y.flatten()))");
        string output = PythonEnvironment.Run(TimeSpan.FromMinutes(5), "-c", script, name, dir);
        return output.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();
    }
}
