using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using FluentAssertions;
using ResidualNet.Models;
using Xunit;

namespace ResidualNet.Tests.Models;

/// <summary>State-dict keys, shapes and order against Python torchvision's.</summary>
public class StateDictLayoutTests
{
    [Theory]
    [InlineData("resnet18")]
    [InlineData("resnet50")]
    public void StateDictEqualsCommittedTorchvisionFixture(string name)
    {
        var expected = File.ReadAllLines(ModelTestUtil.FixturePath($"{name}.state_dict.txt")).Where(l => l.Length > 0).ToList();
        using var model = ModelRegistry.Default.Create(name);

        ModelTestUtil.StateDictLines(model).Should().Equal(expected);
    }

    [Fact]
    public void StateDictEqualsLivePythonTorchvision_SmallFamilies()
        => CompareWithPython("resnet18", "resnet34", "resnet50", "resnext50_32x4d", "wide_resnet50_2");

    [Fact]
    [Trait("Category", "Slow")]
    public void StateDictEqualsLivePythonTorchvision_LargeFamilies()
        => CompareWithPython("resnet101", "resnet152", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet101_2");

    private static void CompareWithPython(params string[] names)
    {
        var reference = PythonStateDicts(names);
        if (reference is null)
        {
            // No /usr/bin/python3 with torchvision here: the committed fixtures above still check resnet18/50.
            return;
        }

        foreach (var name in names)
        {
            using var model = ModelRegistry.Default.Create(name);
            ModelTestUtil.StateDictLines(model).Should().Equal(reference[name], "the state dict of {0} must match torchvision's", name);
        }
    }

    /// <summary>Runs Python torchvision and returns the lines per model.</summary>
    private static Dictionary<string, List<string>>? PythonStateDicts(string[] names)
    {
        const string python = "/usr/bin/python3";
        if (!File.Exists(python))
        {
            return null;
        }

        string script = string.Join("\n",
            "import sys",
            "try:",
            "    import torch, torchvision",
            "except ImportError:",
            "    sys.exit(3)",
            "for n in sys.argv[1:]:",
            "    m = getattr(torchvision.models, n)()",
            "    print('#' + n)",
            "    for k, v in m.state_dict().items():",
            "        print(k + ' [' + ','.join(str(s) for s in v.shape) + ']')");
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var n in names)
        {
            psi.ArgumentList.Add(n);
        }

        using var process = Process.Start(psi)!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode == 3)
        {
            return null;
        }

        process.ExitCode.Should().Be(0, "the reference script must run: {0}", error);
        var result = new Dictionary<string, List<string>>();
        List<string>? current = null;
        foreach (var line in output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0))
        {
            if (line.StartsWith('#'))
            {
                current = [];
                result[line[1..]] = current;
            }
            else
            {
                current!.Add(line);
            }
        }

        result.Keys.Should().BeEquivalentTo(names);
        return result;
    }
}
