//! `compose`: plugs the components of the wasm deployments together with
//! wac-graph (the library behind `wac plug`) and checks what the result
//! imports.
//!
//! ```text
//! compose --store S.wasm --kv K.wasm --front F.wasm -o dist/sessions-http.wasm
//! compose --store S.wasm --front F.wasm -o dist/sessions-api.wasm
//! compose --store S.wasm --kv K.wasm -o store.wasm   # exports `repository`
//! ```
//!
//! The kv adapter's exports (`kv`, `config`, and `types` when it exports
//! it) go into the session component's imports; the session component's
//! `repository` into the front's import. With `--kv` the result must import
//! nothing but `wasi:*`, and only the adapter may import `wasi:sockets`:
//! otherwise `compose` fails and writes nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use wac_graph::types::{ItemKind, Package};
use wac_graph::{CompositionGraph, EncodeOptions, NodeId, PackageId};

const USAGE: &str = "usage: compose --store SESSION.wasm [--kv KV.wasm] [--front FRONT.wasm] -o OUT.wasm";

/// The session component's export that the front imports.
const REPOSITORY: &str = "agent:sessions/repository@0.5.0";
/// The interface of types only; the adapter exports it so that nothing
/// has to import it from the runtime.
const TYPES: &str = "agent:sessions/types@0.5.0";

struct Args {
    store: PathBuf,
    kv: Option<PathBuf>,
    front: Option<PathBuf>,
    output: PathBuf,
}

fn parse_args() -> Result<Args> {
    let mut store = None;
    let mut kv = None;
    let mut front = None;
    let mut output = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let slot = match arg.to_str() {
            Some("--store") => &mut store,
            Some("--kv") => &mut kv,
            Some("--front") => &mut front,
            Some("-o" | "--output") => &mut output,
            Some("-h" | "--help") => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => bail!("unexpected argument {arg:?}\n{USAGE}"),
        };
        let value = args.next().with_context(|| format!("{arg:?} needs a value\n{USAGE}"))?;
        *slot = Some(PathBuf::from(value));
    }
    Ok(Args {
        store: store.with_context(|| format!("--store is required\n{USAGE}"))?,
        kv,
        front,
        output: output.with_context(|| format!("-o is required\n{USAGE}"))?,
    })
}

fn main() -> ExitCode {
    match parse_args().and_then(|args| compose(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("compose: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn register(graph: &mut CompositionGraph, name: &str, path: &PathBuf) -> Result<PackageId> {
    let package = Package::from_file(name, None, path, graph.types_mut())
        .with_context(|| format!("reading the component {}", path.display()))?;
    Ok(graph.register_package(package)?)
}

fn imports(graph: &CompositionGraph, package: PackageId) -> Vec<String> {
    graph.types()[graph[package].ty()].imports.keys().cloned().collect()
}

fn exports(graph: &CompositionGraph, package: PackageId) -> Vec<String> {
    graph.types()[graph[package].ty()].exports.keys().cloned().collect()
}

/// Feeds every import of `instance` (of `package`) that one of `providers`
/// exports under the same name; returns the names it fed.
fn plug(
    graph: &mut CompositionGraph,
    package: PackageId,
    instance: NodeId,
    providers: &[(NodeId, Vec<String>)],
) -> Result<Vec<String>> {
    let mut fed = Vec::new();
    for name in imports(graph, package) {
        if let Some((provider, _)) = providers.iter().find(|(_, exported)| exported.contains(&name)) {
            let export = graph.alias_instance_export(*provider, &name)?;
            graph.set_instantiation_argument(instance, &name, export).with_context(|| format!("plugging {name}"))?;
            fed.push(name);
        }
    }
    Ok(fed)
}

fn compose(args: &Args) -> Result<()> {
    let mut graph = CompositionGraph::new();
    let store = register(&mut graph, "agent-sessions:session", &args.store)?;
    let kv = args.kv.as_ref().map(|path| register(&mut graph, "agent-sessions:kv-redis", path)).transpose()?;
    let front = args.front.as_ref().map(|path| register(&mut graph, "agent-sessions:http-front", path)).transpose()?;

    // Only the adapter may reach the network.
    let local = [(Some(store), &args.store), (front, args.front.as_ref().unwrap_or(&args.store))];
    for (package, path) in local.into_iter().filter_map(|(package, path)| Some((package?, path))) {
        if let Some(socket) = imports(&graph, package).into_iter().find(|name| name.starts_with("wasi:sockets/")) {
            bail!("{} imports {socket}: only the kv adapter may reach the network", path.display());
        }
    }

    let mut providers = Vec::new();
    if let Some(kv) = kv {
        let instance = graph.instantiate(kv);
        providers.push((instance, exports(&graph, kv)));
    }
    let store_instance = graph.instantiate(store);
    let fed = plug(&mut graph, store, store_instance, &providers)?;
    if kv.is_some() {
        for needed in ["agent:sessions/kv@0.5.0", "agent:sessions/config@0.5.0"] {
            if !fed.iter().any(|name| name == needed) {
                bail!("the kv adapter does not export {needed} for the session component");
            }
        }
    }
    providers.push((store_instance, exports(&graph, store)));

    let outer_exports = match front {
        Some(front) => {
            let instance = graph.instantiate(front);
            let fed = plug(&mut graph, front, instance, &providers)?;
            if !fed.iter().any(|name| name == REPOSITORY) {
                bail!("the front does not import {REPOSITORY}");
            }
            exports(&graph, front).into_iter().map(|name| (instance, name)).collect::<Vec<_>>()
        }
        // No front: the store itself (with its adapter), exporting
        // `repository`, and before it the `types` its functions use: an
        // export may only name types the component imports or exports.
        None => {
            let types = providers[..providers.len() - 1]
                .iter()
                .filter(|(_, exported)| exported.iter().any(|name| name == TYPES))
                .map(|(instance, _)| (*instance, TYPES.to_owned()));
            types.chain(exports(&graph, store).into_iter().map(|name| (store_instance, name))).collect()
        }
    };
    for (instance, name) in outer_exports {
        let export = graph.alias_instance_export(instance, &name)?;
        graph.export(export, &name)?;
    }

    let bytes = graph.encode(EncodeOptions::default()).context("encoding the composition")?;

    // What the result imports, read back from the encoded component.
    let mut check = CompositionGraph::new();
    let package = Package::from_bytes("agent-sessions:composed", None, bytes.clone(), check.types_mut())?;
    let world = &check.types()[package.ty()];
    let imported: Vec<(&String, &ItemKind)> = world.imports.iter().collect();
    println!("{}: {} bytes; imports:", args.output.display(), bytes.len());
    for (name, _) in &imported {
        println!("  {name}");
    }
    println!("exports:");
    for name in world.exports.keys() {
        println!("  {name}");
    }
    if kv.is_some() {
        let foreign: Vec<&str> =
            imported.iter().map(|(name, _)| name.as_str()).filter(|name| !name.starts_with("wasi:")).collect();
        if !foreign.is_empty() {
            bail!(
                "the composition still imports {}: with the kv adapter it must import only wasi:*",
                foreign.join(", ")
            );
        }
    }

    if let Some(parent) = args.output.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.output, &bytes).with_context(|| format!("writing {}", args.output.display()))?;
    Ok(())
}
