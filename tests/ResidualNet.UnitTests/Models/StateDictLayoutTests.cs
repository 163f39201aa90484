using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using FluentAssertions;
using ResidualNet.Models;
using ResidualNet.TestSupport.Reference;
using Xunit;

namespace ResidualNet.UnitTests.Models;

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

    /// <summary>Live Python (Category=Python): skipped with the reason without Python, failed where RESIDUALNET_REQUIRE_PYTHON=1.</summary>
    [SkippableFact]
    [Trait("Category", "Python")]
    public void StateDictEqualsLivePythonTorchvision_SmallFamilies()
        => CompareWithPython("resnet18", "resnet34", "resnet50", "resnext50_32x4d", "wide_resnet50_2");

    [SkippableFact]
    [Trait("Category", "Slow")]
    [Trait("Category", "Python")]
    public void StateDictEqualsLivePythonTorchvision_LargeFamilies()
        => CompareWithPython("resnet101", "resnet152", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet101_2");

    private static void CompareWithPython(params string[] names)
    {
        PythonEnvironment.Require();
        var reference = PythonStateDicts(names);
        foreach (var name in names)
        {
            using var model = ModelRegistry.Default.Create(name);
            ModelTestUtil.StateDictLines(model).Should().Equal(reference[name], "the state dict of {0} must match torchvision's", name);
        }
    }

    /// <summary>Runs Python torchvision and returns the lines per model.</summary>
    private static Dictionary<string, List<string>> PythonStateDicts(string[] names)
    {
        string script = string.Join("\n",
            "import sys",
            "import torch, torchvision",
            "for n in sys.argv[1:]:",
            "    m = getattr(torchvision.models, n)()",
            "    print('#' + n)",
            "    for k, v in m.state_dict().items():",
            "        print(k + ' [' + ','.join(str(s) for s in v.shape) + ']')");
        string output = PythonEnvironment.Run(TimeSpan.FromMinutes(5), ["-c", script, .. names]);
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
