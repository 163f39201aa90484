#!/usr/bin/env bash
# Packs ResidualNet, then builds and runs a throwaway consumer project OUTSIDE the repository that restores the
# package from the local feed (artifacts/packages), exactly as a user's `dotnet add package ResidualNet` would.
# On Debian 12 / Ubuntu 22.04 this proves that the libLibTorchSharp.so fix travels inside the package, and the consumer
# runs the oneDNN guard's cases (docs/torchsharp-on-linux.md) with no extra line of its own.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
version="0.1.0-smoke.$(date +%s)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dotnet pack "$repo/src/ResidualNet/ResidualNet.csproj" -c Release -p:Version="$version" -o "$work/feed" --nologo -v quiet

mkdir -p "$work/consumer"
cat > "$work/consumer/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="residualnet-smoke" value="$work/feed" />
  </packageSources>
</configuration>
XML
cat > "$work/consumer/Consumer.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="ResidualNet" Version="$version" />
    <PackageReference Include="TorchSharp-cpu" Version="0.107.0" />
  </ItemGroup>
</Project>
XML
cp "$repo/.ci/package-smoke/Program.cs" "$work/consumer/Program.cs"

cd "$work/consumer"
dotnet build -c Release --nologo 2>&1 | tee "$work/build.log" | grep -E "ResidualNet:|error|Warn|Build succeeded" || true
grep -q "Build succeeded" "$work/build.log"
dotnet run -c Release --no-build
# The oneDNN guard's five cases, each in a child process: on this machine as it is, then with hidden caches simulated.
dotnet run -c Release --no-build -- --guard-cases
dotnet run -c Release --no-build -- --guard-cases --simulated
dotnet publish -c Release -o "$work/publish" --nologo -v quiet
dotnet "$work/publish/Consumer.dll"
echo "package smoke test passed ($version)"
