// A consumer of the ResidualNet package: restores it from a local feed and runs a ResNet forward pass.
using ResidualNet.Models;
using TorchSharp;

using var model = ModelRegistry.Default.Create("resnet20");
model.eval();
using var x = torch.randn(2, 3, 32, 32);
using var y = model.call(x);
Console.WriteLine($"resnet20 forward pass: {string.Join('x', y.shape)}; ResidualNet {typeof(ResNet).Assembly.GetName().Version}");
