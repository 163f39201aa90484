using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Runtime;

/// <summary>Proves that TorchSharp's native library loads from the build output and trains.</summary>
public class NativeLoadTests
{
    [Fact]
    public void TinyModelTrainsForAFewSteps()
    {
        torch.manual_seed(1);
        var model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1));
        var optimizer = optim.SGD(model.parameters(), 0.1);
        using var x = torch.randn(32, 4);
        using var y = x.sum(1, keepdim: true);
        float first = 0, last = 0;
        for (int step = 0; step < 50; step++)
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.mse_loss(model.call(x), y);
            loss.backward();
            optimizer.step();
            float value = loss.item<float>();
            if (step == 0)
            {
                first = value;
            }

            last = value;
        }

        last.Should().BeLessThan(first / 4, "fifty SGD steps on a linear target must cut the loss");
    }
}
